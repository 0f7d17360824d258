"""Training speed: clips/s, step time, peak memory, model FLOPs utilisation, data-wait share.

    python benchmarks/train_speed.py                 # `small` on a CUDA GPU, `tiny` on the CPU
    python benchmarks/train_speed.py --preset base --shards shards/train --steps 30

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small" if torch.cuda.is_available() else "tiny")
    ap.add_argument("--shards", default="synthetic")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per stage (after 2 warm-up steps)")
    ap.add_argument("--stages", default="image,video")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    steps = args.steps or (20 if torch.cuda.is_available() else 8)

    from kinetype.model import Autoencoder
    from kinetype.train.config import PRESETS, resolve
    from kinetype.train.loop import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ae_dir = Path(tmp) / "vae"
        Autoencoder(PRESETS[args.preset].model.autoencoder).save(ae_dir)
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
