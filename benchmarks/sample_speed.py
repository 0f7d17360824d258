"""Sampling speed: seconds per clip at 25 steps with classifier-free guidance, per sampler.

    python benchmarks/sample_speed.py                # `small` on a CUDA GPU, `tiny` on the CPU
    python benchmarks/sample_speed.py --preset base  # 256 px x 24 frames (the paper's clip size)

Random weights (speed does not depend on them); one clip per call, glyph layout on; the decode
through the autoencoder is included. Target on one H100 for a 256x256x24 clip: <= 2 s at 25 steps.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small" if torch.cuda.is_available() else "tiny")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from kinetype.model import Autoencoder, KineTyNet
    from kinetype.pipeline import Pipeline
    from kinetype.sample import SAMPLERS
    from kinetype.train.config import PRESETS

    preset = PRESETS[args.preset]
    if preset.model.text.kind == "clip":
        raise SystemExit(f"preset {args.preset} needs a local CLIP folder; time 'base' instead (same UNet class)")
    cfg = copy.deepcopy(preset.model)
    cfg.denoiser.context_dim = cfg.text.width
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    pipe = Pipeline(KineTyNet(cfg).eval(), Autoencoder(cfg.autoencoder).eval(), objective=cfg.objective, stage="video",
                    size_px=preset.data.size_px, num_frames=preset.data.num_frames, fps=8).to(device)
    masks = np.zeros((1, preset.data.num_frames, preset.data.size_px, preset.data.size_px), np.float32)
    masks[..., preset.data.size_px // 3 : 2 * preset.data.size_px // 3, 4:-4] = 1
    prompt = (["gold letters on a deep red background"], ["the letters drop in one after another"], ["H^|e|l|l|o"])

    rows = []
    for name in SAMPLERS:
        pipe(*prompt, masks, steps=2, sampler=name, guidance=args.guidance)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            pipe(*prompt, masks, steps=args.steps, sampler=name, guidance=args.guidance, seed=r)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        rows.append((name, float(np.median(times)), mem))

    dev = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    p = preset.data
    print(f"\nsample speed: preset {args.preset}, {p.size_px}x{p.size_px}x{p.num_frames} clip, {args.steps} steps, "
          f"guidance {args.guidance}, {dev}, torch {torch.__version__}")
    print(f"{'sampler':<9}{'s/clip':>9}{'clips/s':>9}{'ms/step':>9}{'peak GB':>9}{'vs ddim':>9}")
    base = rows[0][1]
    for name, s, mem in rows:
        print(f"{name:<9}{s:>9.3f}{1 / s:>9.2f}{1000 * s / args.steps:>9.1f}{(f'{mem:.1f}' if mem else '-'):>9}{s / base:>8.2f}x")


if __name__ == "__main__":
    main()
