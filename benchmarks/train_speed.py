"""Training speed: FLOPs per clip of each stage (counted on the meta device), steady-state step time,
clips/s, achieved TFLOP/s and MFU against the device's peak, data wait and peak memory; the step
before issue 15 against the trainer, side by side in one run; and the hot paths of issue 11.

    python benchmarks/train_speed.py                  # `small` on CUDA, `tiny` on the CPU, synthetic clips
    python benchmarks/train_speed.py --preset cpu --shards 'shards/cpu128/shard-00000{0..1}.tar' \\
        --autoencoder models/kinetype/autoencoder     # the bundled model's preset on 1,000 rendered clips
    python benchmarks/train_speed.py --table stages   # without the old step
    python benchmarks/train_speed.py --compile        # torch.compile: compile time, compiled step vs eager
    python benchmarks/train_speed.py --estimate H200 --mfu 0.3   # clips/s from the FLOP count (an estimate)
    python benchmarks/train_speed.py --table hot-paths            # issue 11's old-vs-new rows

Peak: the GPU's dense bf16 peak from a table (``PEAK_BF16_TFLOPS``); on the CPU a matmul measured
here, in the precision the run computes in. MFU = FLOPs of the steps / (step time x peak). The
FLOPs of a step (``kinetype.train.flops``): the network's forward and backward at the caption lengths
the data give (measured on its first batches), the glyph loss's decoder (forward and backward on its
clips, forward for its target) and, without the latent cache, the encoder.

The old step (``old_step``, a reference implementation of the trainer before issue 15, on the same
network): captions tokenised per kind in the step to the batch's longest, noise and times drawn on
the CPU and copied over, caption drops read back as a Python list, the encoder on every frame of
every step, the glyph loss decoding every clip against the decoded video, float32 on the CPU, AdamW
with a loop per parameter on the CPU, an EMA with a Python dict per step, and a read-back every step
to decide whether to update. The new: ``kinetype.train.loop.train`` itself. Never gates CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinetype.model import Autoencoder, KineTyNet  # noqa: E402
from kinetype.model.autoencoder import resize_masks  # noqa: E402
from kinetype.model.denoiser import Context  # noqa: E402
from kinetype.model.losses import denoising_loss, dilate  # noqa: E402
from kinetype.model.objective import add_noise, predict_x0_eps, target  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.model.text import ByteTokenizer, Caption, Tokens  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from kinetype.train.data import DataStream, prepare  # noqa: E402
from kinetype.train.flops import step_flops  # noqa: E402
from kinetype.train.loop import train  # noqa: E402
from kinetype.train.setup import build_models, choose_trainable, native_bf16, resolve_model  # noqa: E402

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "4090": 165.0, "3090": 71.0}


def cuda() -> bool:
    return torch.cuda.is_available()


def device() -> torch.device:
    return torch.device("cuda" if cuda() else "cpu")


def measured_cpu_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 8) -> float:
    """TFLOP/s of an n x n matmul on this CPU in ``dtype`` (best of ``repeats``)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e12


def peak_tflops(bf16: bool) -> tuple[float | None, str]:
    if cuda():
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        return peak, f"{name}, dense bf16 peak {peak} TFLOP/s" if peak else f"{name} (peak unknown)"
    peak = measured_cpu_peak(torch.bfloat16 if bf16 else torch.float32)
    return peak, f"CPU ({torch.get_num_threads()} threads), measured {'bf16' if bf16 else 'float32'} matmul peak {peak:.2f} TFLOP/s"


# ---- the step before issue 15 (reference implementation) -------------------------------------------


def old_encode(net, captions: list[str]) -> Caption:
    """Tokenised in the step, per caption kind, padded to the batch's longest caption."""
    tokens = ByteTokenizer(net.cfg.text.max_tokens)(captions)
    length = int(tokens.mask.sum(1).max())
    return net.text_encoder(Tokens(tokens.ids[:, :length], tokens.mask[:, :length]).to(device()))


def old_step(net, ae, batch, cfg, gen: torch.Generator, is_video: bool) -> dict[str, torch.Tensor]:
    lc, obj = cfg.loss, cfg.model.objective
    video, masks = batch["video"], batch["mask"]
    b, dev = video.shape[0], video.device
    with torch.no_grad():
        x0 = ae.encode(video, masks)
    u = torch.randn(b, generator=gen, device="cpu")
    t = torch.sigmoid(u).to(dev) if obj == "flow" else torch.rand(b, generator=gen).clamp(1e-3, 1.0).to(dev)
    eps = torch.randn(x0.shape, generator=gen).to(dev, x0.dtype)
    x_t = add_noise(x0, eps, t, obj)
    drop = (torch.rand(b, generator=gen) < lc.uncond_prob).tolist()
    blank = lambda caps: ["" if d else c for c, d in zip(caps, drop)]  # noqa: E731
    ctx = Context(old_encode(net, blank(batch["static"])),
                  old_encode(net, blank(batch["dynamic"])) if is_video else None,
                  old_encode(net, blank(batch["word"])) if is_video else None)
    glyph = resize_masks(masks, x0.shape[-2:])
    present = (torch.rand(b, generator=gen) >= lc.glyph_drop_prob).float().to(dev)
    out = net.denoiser(x_t, t, ctx, glyph, present)
    terms = {"denoise": denoising_loss(out, target(x0, eps, t, obj))}
    x0_hat = predict_x0_eps(x_t, out.float(), t, obj)[0]
    k = min(lc.glyph_frames, x0.shape[1])
    idx = torch.stack([torch.randperm(x0.shape[1], generator=gen)[:k] for _ in range(b)]).to(dev)
    pick = lambda a: torch.gather(a, 1, idx.view(b, k, *([1] * (a.ndim - 2))).expand(b, k, *a.shape[2:]))  # noqa: E731
    real, m = pick(video), pick(masks)
    decoded = ae.decode(pick(x0_hat), m, present)
    m = dilate(m.flatten(0, 1), lc.glyph_dilate_px).view_as(m) * (t <= lc.glyph_max_t).view(b, 1, 1, 1).to(m.dtype)
    terms["glyph"] = ((decoded.float() - real.float()).abs().mean(2) * m).sum() / m.sum().clamp_min(1.0)
    terms["loss"] = terms["denoise"] + lc.glyph_weight * terms["glyph"]
    return terms


def run_old(cfg, steps: int, warmup: int = 2) -> dict[str, float]:
    """The old step on the same model and data: seconds per step (median after ``warmup``), data wait.
    Run in a process of its own (``old_in_subprocess``): the trainer tunes the process (malloc)."""
    torch.manual_seed(cfg.seed)
    ae, net = build_models(cfg)
    ae.to(device()).requires_grad_(False).eval()
    net.to(device()).train()
    choose_trainable(net, cfg)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, **({"fused": True} if cuda() else {}))
    shadow = {n: p.detach().float().clone() for n, p in net.named_parameters() if p.requires_grad}
    data = dict(vars(cfg.data))
    data["latent_cache"] = False
    stream = DataStream(type(cfg.data)(**data), single_frame=cfg.stage != "video", seed=cfg.seed, rank=0, world_size=1)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda() else contextlib.nullcontext()
    times, waits = [], []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(step)
        opt.zero_grad(set_to_none=True)
        batch = prepare(next(stream), cfg.data.size_px, device())
        wait = time.perf_counter() - t0
        with autocast:
            terms = old_step(net, ae, batch, cfg, gen, cfg.stage == "video")
        terms["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        if bool((torch.isfinite(terms["loss"]) & torch.isfinite(grad_norm)).item()):
            opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        named = dict(net.named_parameters())
        names = [n for n in shadow]
        torch._foreach_lerp_([shadow[n] for n in names], [named[n].detach().float() for n in names], 1.0 - decay)
        times.append(time.perf_counter() - t0)
        waits.append(wait)
    steady = times[warmup:]
    return {"step_s": sorted(steady)[len(steady) // 2], "wait": sum(waits[warmup:]) / sum(steady)}


def old_in_subprocess(args, stage: str, ae_dir: str, steps: int) -> dict[str, float]:
    import subprocess

    cmd = [sys.executable, __file__, "--preset", args.preset, "--shards", args.shards, "--autoencoder", ae_dir,
           "--steps", str(steps), "--old-stage", stage]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def caption_tokens(cfg, batches: int = 20) -> tuple[int, int, int]:
    """The mean token count of each caption kind as the eager trainer pads them (to each batch's
    longest), over the first batches of the data: what its network computes on."""
    tokenizer = KineTyNet(cfg.model).tokenizer
    stream = DataStream(cfg.data, single_frame=cfg.stage != "video", seed=cfg.seed, rank=0, world_size=1)
    sums = [0, 0, 0]
    for _ in range(batches):
        batch = next(stream)
        for i, kind in enumerate(("static", "dynamic", "word")):
            sums[i] += tokenizer.shortest_length(batch[kind])
    return tuple(round(s / batches) for s in sums)


# ---- the trainer --------------------------------------------------------------------------------------


def run_new(cfg, steps: int, warmup: int = 3) -> dict[str, float]:
    """``train`` for warmup + steps steps: median step time after the warm-up, data wait, peak memory."""
    if cuda():
        torch.cuda.reset_peak_memory_stats()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    train(cfg, echo=lambda s: None)
    wall = time.perf_counter() - t0
    recs = [json.loads(x) for x in open(Path(cfg.out) / "metrics.jsonl")][warmup:]
    step_s = sorted(r["step_s"] for r in recs)[len(recs) // 2]
    wait = sum(r["data_wait_share"] * r["step_s"] for r in recs) / sum(r["step_s"] for r in recs)
    mem = (torch.cuda.max_memory_allocated() / 2**30 if cuda()
           else max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 2**20)
    return {"step_s": step_s, "wait": wait, "mem_gb": mem, "wall": wall, "first_s": json.loads(
        open(Path(cfg.out) / "metrics.jsonl").readline())["step_s"]}


def stage_config(args, stage: str, out: str, ae_dir: str, steps: int, **extra):
    over = {"stage": stage, "out": out, "data": {"shards": args.shards}, "optim": {"max_steps": steps},
            "model": {"autoencoder": {"path": ae_dir}}, "checkpoint_every": 10**9, "sample_every": 0, "log_every": 10**9}
    for k, v in extra.items():
        over[k] = {**over.get(k, {}), **v} if isinstance(v, dict) else v
    return resolve_model(resolve(args.preset, overrides=over))


def stages_table(args, ae_dir: str, tmp: str) -> None:
    steps = args.steps or (30 if cuda() else 8)
    probe = resolve(args.preset, overrides={"stage": "image"})
    bf16 = probe.precision == "bf16" and native_bf16(device())
    peak, peak_desc = peak_tflops(bf16)
    rows, old_rows = [], []
    for stage in args.stages.split(","):
        extra = {"compile": "on"} if args.compile else {}
        cfg = stage_config(args, stage, f"{tmp}/{stage}", ae_dir, steps + 3, **extra)
        tokens = None if args.compile or stage == "autoencoder" or cfg.model.text.kind != "byte" else caption_tokens(cfg)
        flops = sum(step_flops(cfg, caption_tokens=tokens).values())
        new = run_new(cfg, steps)
        clips = cfg.data.batch_size * cfg.optim.grad_accum_steps
        rows.append({"stage": stage, "frames": 1 if stage != "video" else cfg.data.num_frames, "px": cfg.data.size_px,
                     "batch": clips, "flops": flops, **new, "cache": cfg.data.latent_cache})
        if args.table == "all" and stage != "autoencoder":
            old_flops = sum(step_flops(cfg, old=True, caption_tokens=tokens).values())
            old = old_in_subprocess(args, stage, ae_dir, steps)
            old_rows.append({"stage": stage, "batch": clips, "flops": old_flops, **old, "new": new, "new_flops": flops})
        if args.compile:
            eager = run_new(stage_config(args, stage, f"{tmp}/{stage}-eager", ae_dir, steps + 3, compile="off"), steps)
            print(f"{stage}: compiled first step {new['first_s']:.1f} s (tracing and compiling), steady "
                  f"{new['step_s']:.3f} s/step against {eager['step_s']:.3f} eager ({eager['step_s'] / new['step_s']:.2f}x)")

    dev = torch.cuda.get_device_name() if cuda() else f"CPU ({torch.get_num_threads()} threads)"
    print(f"\ntrain speed: preset {args.preset}, data {args.shards}, {dev}, torch {torch.__version__}")
    print(f"peak: {peak_desc}; {'bf16 autocast' if bf16 else 'float32'}")
    print(f"{'stage':<12}{'frames':>7}{'px':>5}{'batch':>6}{'GFLOP/clip':>11}{'step s':>9}{'clips/s':>9}"
          f"{'data wait':>10}{'peak GB':>9}{'TFLOP/s':>9}{'MFU':>8}")
    for r in rows:
        tflops = r["flops"] * r["batch"] / r["step_s"] / 1e12
        mfu = f"{100 * tflops / peak:.2f}%" if peak else "-"
        name = r["stage"] + (" (cache)" if r["cache"] and r["stage"] != "autoencoder" else "")
        print(f"{name:<12}{r['frames']:>7}{r['px']:>5}{r['batch']:>6}{r['flops'] / 1e9:>11.1f}{r['step_s']:>9.3f}"
              f"{r['batch'] / r['step_s']:>9.2f}{100 * r['wait']:>9.1f}%{r['mem_gb']:>9.2f}{tflops:>9.3f}{mfu:>8}")
    if old_rows:
        print("\nthe step before issue 15 (reference implementation in this script) against the trainer, same model and data")
        print(f"{'stage':<8}{'old s/step':>11}{'old clips/s':>12}{'old MFU':>9}{'new s/step':>11}{'new clips/s':>12}"
              f"{'new MFU':>9}{'new/old':>9}")
        for r in old_rows:
            mfu_old = r["flops"] * r["batch"] / r["step_s"] / 1e12 / peak if peak else None
            mfu_new = r["new_flops"] * r["batch"] / r["new"]["step_s"] / 1e12 / peak if peak else None
            print(f"{r['stage']:<8}{r['step_s']:>11.3f}{r['batch'] / r['step_s']:>12.2f}"
                  f"{(f'{100 * mfu_old:.2f}%' if peak else '-'):>9}{r['new']['step_s']:>11.3f}"
                  f"{r['batch'] / r['new']['step_s']:>12.2f}{(f'{100 * mfu_new:.2f}%' if peak else '-'):>9}"
                  f"{r['step_s'] / r['new']['step_s']:>8.2f}x")


def flops_table(args) -> None:
    """FLOPs per clip of every stage by part, old and new, and (with --estimate) clips/s on a GPU."""
    print(f"\nFLOPs per clip of one training step (forward + backward), preset {args.preset}, counted on the meta device")
    print(f"{'stage':<12}{'part':<14}{'new GFLOP':>10}{'old GFLOP':>10}")
    est = []
    for stage in ("autoencoder", "image", "video"):
        cfg = resolve(args.preset, overrides={"stage": stage})
        new, old = step_flops(cfg), step_flops(cfg, old=True) if stage != "autoencoder" else step_flops(cfg)
        for part in sorted(set(new) | set(old)):
            print(f"{stage:<12}{part:<14}{new.get(part, 0) / 1e9:>10.2f}{old.get(part, 0) / 1e9:>10.2f}")
        print(f"{stage:<12}{'total':<14}{sum(new.values()) / 1e9:>10.2f}{sum(old.values()) / 1e9:>10.2f}")
        est.append((stage, sum(new.values())))
    if args.estimate:
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in args.estimate), None)
        if peak is None:
            raise SystemExit(f"--estimate {args.estimate}: no peak known (known: {', '.join(PEAK_BF16_TFLOPS)})")
        print(f"\nESTIMATE, not a measurement: clips/s on an {args.estimate} (dense bf16 peak {peak:g} TFLOP/s) "
              f"at {100 * args.mfu:.0f}% MFU = peak x MFU / FLOPs per clip")
        for stage, flops in est:
            print(f"{stage:<12}{peak * 1e12 * args.mfu / flops:>12.0f} clips/s")


# ---- issue 11's hot paths, old against new ------------------------------------------------------------


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


def resume_row(batches_seen: int, shards: str | None) -> dict:
    """Time to the first batch after resuming a stream that had drawn ``batches_seen`` batches."""
    from kinetype.train.config import DataConfig

    with tempfile.TemporaryDirectory() as tmp:
        if shards is None:
            from kinetype.shards import RenderConfig, render_dataset
            from kinetype.render.templates import load_templates

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


def hot_paths(args) -> None:
    rows = [attention_row(repeats=5), resume_row(args.resume_batches, None if args.shards == "synthetic" else args.shards)]
    print(f"\nold against new (issue 11): CPU ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print(f"{'':<80}{'old':<32}{'new':<30}{'old s':>9}{'new s':>9}{'old/new':>9}")
    for r in rows:
        print(f"{r['what']:<80}{r['old']:<32}{r['new']:<30}{r['t_old']:>9.3f}{r['t_new']:>9.3f}{r['t_old'] / r['t_new']:>8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small" if cuda() else "tiny")
    ap.add_argument("--shards", default="synthetic")
    ap.add_argument("--autoencoder", default=None, help="a trained autoencoder folder (default: a random one of the preset)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per stage (after the warm-up steps)")
    ap.add_argument("--stages", default="image,video")
    ap.add_argument("--compile", action="store_true", help="compile the network; print compile time and the eager step too")
    ap.add_argument("--table", choices=("all", "stages", "flops", "hot-paths"), default="all")
    ap.add_argument("--estimate", default=None, help="a GPU name (H200, A100...): clips/s estimated from the FLOP count")
    ap.add_argument("--mfu", type=float, default=0.3, help="the MFU assumed by --estimate")
    ap.add_argument("--resume-batches", type=int, default=60, help="hot paths: batches seen before the resume that is timed")
    ap.add_argument("--old-stage", default=None, help=argparse.SUPPRESS)  # run the old step alone; print JSON
    args = ap.parse_args()
    if args.old_stage:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = stage_config(args, args.old_stage, f"{tmp}/old", args.autoencoder, args.steps)
            print(json.dumps(run_old(cfg, args.steps)))
        return
    if args.table == "hot-paths":
        hot_paths(args)
        return
    if args.table == "flops":
        flops_table(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ae_dir = args.autoencoder
        if ae_dir is None:
            ae_dir = str(Path(tmp) / "vae")
            torch.manual_seed(0)
            Autoencoder(model_preset(args.preset).autoencoder).save(Path(ae_dir))
        stages_table(args, ae_dir, tmp)
    if args.estimate:
        flops_table(args)


if __name__ == "__main__":
    main()
