"""Training speed: clips/s, step time, peak memory, model FLOPs utilisation, data-wait share; and
the hot-path changes of issue 11, old against new, side by side in the same run.

    python benchmarks/train_speed.py                 # `small` on a CUDA GPU, `tiny` on the CPU
    python benchmarks/train_speed.py --preset base --shards shards/train --steps 30
    python benchmarks/train_speed.py --table before-after   # only the old-vs-new table

Old against new (each old path is a reference implementation here, checked to give the same
result as the new one before it is timed):
- cross-attention to a caption: keys/values copied to every pixel (expand + reshape) against the
  repeat folded into the query sequence (``kinetype.model.attention``), at the `cpu` preset's
  temporal call (video stage: 2 clips x 12 frames, 16x16 latents, 64 channels, a 170-byte caption);
- loss read-backs: ``.item()`` per micro-batch against summing on the device and reading back at
  logging steps (on the CPU both run in step: the gain is on a GPU, where each read-back stalls
  the queue);
- resume at a late step: fast-forwarding by drawing (decoding) every batch seen against
  restarting each reader at its position (``kinetype.data``).

Runs the real training loop (kinetype.train.loop.train) for a few steps per stage on synthetic clips
(or --shards) with a random autoencoder, and prints one table, stages side by side. MFU counts the
denoiser + text encoder + glyph-loss decoder FLOPs of one step (torch's FlopCounterMode) against the
GPU's dense bf16 peak. Never gates CI.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "4090": 165.0, "3090": 71.0}


def peak_tflops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def step_flops(cfg, ae_dir: Path) -> float:
    """FLOPs of one training step (forward + backward of one micro-batch) per device."""
    from torch.utils.flop_counter import FlopCounterMode

    from kinetype.model.losses import DiffusionLoss
    from kinetype.train.data import DataStream, prepare
    from kinetype.train.loop import build_models, choose_trainable, resolve_model

    cfg = resolve_model(cfg)
    ae, net = build_models(cfg)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ae.to(dev).requires_grad_(False)
    choose_trainable(net, cfg)
    net.to(dev)
    batch = prepare(next(DataStream(cfg.data, single_frame=cfg.stage != "video", seed=0, rank=0, world_size=1)),
                    cfg.data.size_px, dev)
    loss_fn = DiffusionLoss(cfg.loss, cfg.model.objective, ae, video=cfg.stage == "video")
    with FlopCounterMode(display=False) as fc:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = loss_fn(net, batch, torch.Generator().manual_seed(0))["loss"]
        loss.backward()
    return float(fc.get_total_flops())


# ---- old against new -------------------------------------------------------------------------------


def expanded_cross_attention(attn, x, context, context_mask, context_repeat):
    """The old path of ``Attention.forward`` with a context: keys and values projected once per
    clip, then copied to each of its ``context_repeat`` rows by ``.expand(...).reshape(...)``."""
    import torch.nn.functional as F

    n, s, c = x.shape
    h, d = attn.heads, c // attn.heads
    b, l = context.shape[:2]
    q = attn.to_q(x).view(n, s, h, d).transpose(1, 2)  # (N, h, S, d)
    k = attn.to_k(context).view(b, 1, l, h, d).transpose(2, 3).expand(b, context_repeat, h, l, d).reshape(n, h, l, d)
    v = attn.to_v(context).view(b, 1, l, h, d).transpose(2, 3).expand(b, context_repeat, h, l, d).reshape(n, h, l, d)
    mask = context_mask[:, None, None, None, :].expand(b, context_repeat, 1, 1, l).reshape(n, 1, 1, l)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (N, h, S, d)
    return attn.to_out(out.transpose(1, 2).reshape(n, s, c))


def old_and_new_times(old, new, repeats: int) -> tuple[float, float]:
    """Best of ``repeats`` timings of each, taken alternately (old, new, old, ...) after one warm-up
    call of each, so load from other processes on the machine falls on both alike."""
    old(), new()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((old, times[0]), (new, times[1])):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return min(times[0]), min(times[1])


def attention_row(repeats: int) -> dict:
    from kinetype.model.attention import Attention
    from kinetype.model.presets import model_preset

    m = model_preset("cpu")
    clips, frames, tokens, side = 2, 12, 170, 16
    channels = m.denoiser.channels[0]
    torch.manual_seed(0)
    attn = Attention(channels, channels // m.denoiser.head_dim, m.text.width).eval()
    rows = clips * side * side  # temporal attention: one row per pixel, frames as the sequence
    x = torch.randn(rows, frames, channels)  # (B*H*W, T, C)
    context = torch.randn(clips, tokens, m.text.width)  # (B, L, Cc)
    mask = torch.ones(clips, tokens, dtype=torch.bool)
    mask[1, 120:] = False  # the shorter caption is padded
    with torch.no_grad():
        old = expanded_cross_attention(attn, x, context, mask, side * side)
        new = attn(x, context, mask, context_repeat=side * side)
        assert torch.allclose(old, new, atol=1e-5), (old - new).abs().max()
        t_old, t_new = old_and_new_times(lambda: expanded_cross_attention(attn, x, context, mask, side * side),
                                         lambda: attn(x, context, mask, context_repeat=side * side), repeats)
    return {"what": f"caption cross-attention, temporal ({rows}x{frames} queries, {tokens} tokens), forward",
            "old": "keys/values copied per pixel", "new": "repeat folded into queries", "t_old": t_old, "t_new": t_new}


def sync_row(steps: int, log_every: int, accum: int) -> dict:
    """The micro-batch section of the training loop, with the loss terms read back per micro-batch
    (old) or summed on the device and read back once per ``log_every`` steps (new)."""
    from kinetype.model import Autoencoder, KineTyNet
    from kinetype.model.losses import DiffusionLoss, LossConfig
    from kinetype.model.presets import model_preset
    from kinetype.train.data import SyntheticClips, collate, prepare
    from kinetype.train.loop import step_generator

    cfg = model_preset("tiny")
    torch.manual_seed(0)
    ae = Autoencoder(cfg.autoencoder).requires_grad_(False).eval()
    net = KineTyNet(cfg)
    loss_fn = DiffusionLoss(LossConfig(glyph_weight=0.0), cfg.objective, ae, video=True)  # no decoder pass: short
    clips = SyntheticClips(size_px=32, num_frames=4)
    batches = [prepare(collate([clips.clip(i)]), 32, torch.device("cpu")) for i in range(accum)]

    def run(read_back_every_micro: bool) -> list[float]:
        logged, pending = [], []
        for step in range(steps):
            gen = step_generator(0, 0, step)
            net.zero_grad(set_to_none=True)
            sums, finite_dev, finite = {}, torch.ones((), dtype=torch.bool), True
            for batch in batches:
                terms = loss_fn(net, batch, gen)
                if read_back_every_micro:
                    finite &= bool(torch.isfinite(terms["loss"]).item())
                else:
                    finite_dev &= torch.isfinite(terms["loss"].detach())
                (terms["loss"] / accum).backward()
                for k, v in terms.items():
                    sums[k] = (sums.get(k, 0.0) + float(v.detach()) / accum if read_back_every_micro
                               else sums.get(k, 0.0) + v.detach().double() / accum)
            if read_back_every_micro:
                logged.append(sums["loss"])
            else:
                assert bool(finite_dev.item())  # the one read-back a step needs: skip or update
                pending.append(sums["loss"])
                if (step + 1) % log_every == 0 or step == steps - 1:
                    logged += torch.stack(pending).tolist()
                    pending.clear()
        return logged

    old, new = run(True), run(False)
    assert old == new, (old, new)  # the same logged losses, bit for bit
    t_old, t_new = old_and_new_times(lambda: run(True), lambda: run(False), repeats=2)
    return {"what": f"loss read-backs, tiny video, {steps} steps x {accum} micro-batches of 1 clip",
            "old": "every term, every micro-batch", "new": f"1 a step + 1 per {log_every} steps",
            "t_old": t_old, "t_new": t_new}


def resume_row(batches_seen: int, shards: str | None) -> dict:
    """Time to the first batch after resuming a stream that had drawn ``batches_seen`` batches."""
    from kinetype.train.config import DataConfig
    from kinetype.train.data import DataStream

    with tempfile.TemporaryDirectory() as tmp:
        if shards is None:
            from kinetype.shards import RenderConfig, render_dataset
            from kinetype.templates import load_templates

            templates_dir = Path(__file__).resolve().parents[1] / "templates"
            shards = str(Path(tmp) / "ds")
            render_dataset(RenderConfig(templates=templates_dir, n=48, shard_size=8, size=64, num_frames=12), Path(shards),
                           workers=1, templates=load_templates(templates_dir), progress=False)
        cfg = DataConfig(shards=shards, size_px=64, num_frames=8, batch_size=4, shuffle_buffer=16, video_dtype="yuv420")

        def stream() -> DataStream:
            return DataStream(cfg, single_frame=False, seed=0, rank=0, world_size=1)

        seen = stream()
        for _ in range(batches_seen):
            next(seen)
        state = seen.state_dict()
        want = next(seen)

        def old() -> dict:  # the old load_state_dict: rebuild from the start, draw every batch seen
            s = stream()
            for _ in range(batches_seen):
                next(s)
            return next(s)

        def new() -> dict:
            s = stream()
            s.load_state_dict(state)
            return next(s)

        assert old()["__key__"] == new()["__key__"] == want["__key__"]
        t_old, t_new = old_and_new_times(old, new, repeats=2)
    return {"what": f"resume after {batches_seen} batches ({batches_seen * cfg.batch_size} clips), to the first batch",
            "old": "re-decode every batch seen", "new": "restart readers at positions", "t_old": t_old, "t_new": t_new}


def before_after(args) -> None:
    rows = [attention_row(repeats=5), sync_row(steps=4, log_every=2, accum=2),
            resume_row(args.resume_batches, None if args.shards == "synthetic" else args.shards)]
    print(f"\nold against new: CPU ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print(f"{'':<80}{'old':<32}{'new':<30}{'old s':>9}{'new s':>9}{'old/new':>9}")
    for r in rows:
        print(f"{r['what']:<80}{r['old']:<32}{r['new']:<30}{r['t_old']:>9.3f}{r['t_new']:>9.3f}{r['t_old'] / r['t_new']:>8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small" if torch.cuda.is_available() else "tiny")
    ap.add_argument("--shards", default="synthetic")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per stage (after 2 warm-up steps)")
    ap.add_argument("--stages", default="image,video")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--table", choices=("all", "stages", "before-after"), default="all")
    ap.add_argument("--resume-batches", type=int, default=60, help="batches seen before the resume that is timed")
    args = ap.parse_args()
    steps = args.steps or (20 if torch.cuda.is_available() else 8)
    if args.table != "stages":
        before_after(args)
    if args.table == "before-after":
        return

    from kinetype.model import Autoencoder
    from kinetype.model.presets import model_preset
    from kinetype.train.config import resolve
    from kinetype.train.loop import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ae_dir = Path(tmp) / "vae"
        Autoencoder(model_preset(args.preset).autoencoder).save(ae_dir)
        for stage in args.stages.split(","):
            cfg = resolve(args.preset, overrides={
                "stage": stage, "out": f"{tmp}/{stage}", "compile": args.compile,
                "data": {"shards": args.shards}, "optim": {"max_steps": steps + 2},
                "model": {"autoencoder": {"path": str(ae_dir)}}, "checkpoint_every": 10**9, "sample_every": 0,
                "log_every": 10**9})
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            train(cfg, echo=lambda s: None)
            wall = time.perf_counter() - t0
            recs = [json.loads(x) for x in open(Path(cfg.out) / "metrics.jsonl")][2:]  # drop warm-up
            step_s = sum(r["step_s"] for r in recs) / len(recs)
            wait = sum(r["data_wait_share"] * r["step_s"] for r in recs) / sum(r["step_s"] for r in recs)
            clips = cfg.data.batch_size * cfg.optim.grad_accum_steps
            flops = step_flops(cfg, ae_dir) * cfg.optim.grad_accum_steps
            peak = peak_tflops()
            rows.append({
                "stage": stage, "frames": 1 if stage != "video" else cfg.data.num_frames, "px": cfg.data.size_px,
                "batch": clips, "step_s": step_s, "clips_s": clips / step_s, "wait": wait,
                "mem_gb": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
                "tflops": flops / step_s / 1e12, "mfu": (flops / step_s / 1e12 / peak) if peak else None, "wall": wall,
            })

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    print(f"\ntrain speed: preset {args.preset}, data {args.shards}, {device}, torch {torch.__version__}")
    print(f"{'stage':<7}{'frames':>7}{'px':>5}{'clips/step':>11}{'step s':>9}{'clips/s':>9}{'data wait':>10}"
          f"{'peak GB':>9}{'TFLOP/s':>9}{'MFU':>7}")
    for r in rows:
        mem = f"{r['mem_gb']:.1f}" if r["mem_gb"] is not None else "-"
        mfu = f"{100 * r['mfu']:.0f}%" if r["mfu"] is not None else "-"
        print(f"{r['stage']:<7}{r['frames']:>7}{r['px']:>5}{r['batch']:>11}{r['step_s']:>9.3f}{r['clips_s']:>9.2f}"
              f"{100 * r['wait']:>9.1f}%{mem:>9}{r['tflops']:>9.3f}{mfu:>7}")
    if len(rows) == 2:
        print(f"video/image step time: {rows[1]['step_s'] / rows[0]['step_s']:.2f}x")


if __name__ == "__main__":
    main()
