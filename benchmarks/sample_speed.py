"""Sampling speed: seconds per clip at 25 steps with classifier-free guidance, per sampler; and
`kinetype generate` with the bundled model before and after issue 11, side by side in one run.

    python benchmarks/sample_speed.py                # `small` on a CUDA GPU, `tiny` on the CPU
    python benchmarks/sample_speed.py --preset base  # 256 px x 24 frames (the paper's clip size)
    python benchmarks/sample_speed.py --table before-after --steps 15

Before/after, one (template, word, seed) at a time, old and new taken alternately: the engine's
reference render (its captions and glyph masks; before: every frame painted, after:
``pixels=False``), and the sampling (before: caption keys/values copied to every pixel and frame
by ``.expand().reshape()``, the reference implementation in ``train_speed.py``; after: the repeat
folded into the query sequence). The clips of both paths are compared before timing.

Random weights (speed does not depend on them); one clip per call, glyph layout on; the decode
through the autoencoder is included. Target on one H100 for a 256x256x24 clip: <= 2 s at 25 steps.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def before_after(steps: int, guidance: float, repeats: int) -> None:
    """`generate`'s two costs with the bundled model, old path against new (see the module docstring)."""
    from train_speed import expanded_cross_attention, old_and_new_times

    from kinetype.model.attention import Attention
    from kinetype.pipeline import load_pipeline
    from kinetype.render import render_clip
    from kinetype.templates import get_template, load_templates

    pipe = load_pipeline()
    templates = load_templates()
    items = [("drop-bounce-in-ltr", "Hello", 0), ("wave-ltr", "Kinetic", 1), ("fly-right-in-slide-left-out", "Type", 2)]
    folded = Attention.forward

    def expanded(self, x, context=None, context_mask=None, context_repeat=1):
        if context is None or context_mask is None:
            return folded(self, x, context, context_mask, context_repeat)
        return expanded_cross_attention(self, x, context, context_mask, context_repeat)

    rows = []
    for template_id, word, seed in items:
        t = get_template(templates, template_id)
        args = (t, word, seed)
        kw = dict(size=pipe.size_px, num_frames=pipe.num_frames, fps=pipe.fps)
        full, bare = render_clip(*args, **kw), render_clip(*args, **kw, pixels=False)
        assert (full.instance_map == bare.instance_map).all() and full.captions == bare.captions
        render_old, render_new = old_and_new_times(lambda: render_clip(*args, **kw),
                                                   lambda: render_clip(*args, **kw, pixels=False), repeats)
        caps, masks = bare.captions, bare.text_mask[None].astype("float32")

        def sample(forward):
            Attention.forward = forward
            try:
                return pipe([caps.static], [caps.dynamic], [caps.word], masks, steps=steps, guidance=guidance, seed=seed)
            finally:
                Attention.forward = folded

        differ = int(np.abs(sample(expanded).astype(int) - sample(folded).astype(int)).max())
        sample_old, sample_new = old_and_new_times(lambda: sample(expanded), lambda: sample(folded), repeats)
        rows.append((f"{template_id} {word}", render_old, render_new, sample_old, sample_new, differ))

    print(f"\ngenerate, bundled model ({pipe.size_px} px x {pipe.num_frames} frames), {steps} steps, guidance "
          f"{guidance}, CPU ({torch.get_num_threads()} threads); seconds, best of {repeats}, old and new alternately")
    print(f"{'clip':<34}{'render old':>11}{'new':>7}{'sample old':>11}{'new':>7}{'total old':>10}{'new':>7}{'old/new':>8}"
          f"{'max px diff':>12}")
    for name, ro, rn, so, sn, differ in rows:
        print(f"{name:<34}{ro:>11.3f}{rn:>7.3f}{so:>11.3f}{sn:>7.3f}{ro + so:>10.3f}{rn + sn:>7.3f}"
              f"{(ro + so) / (rn + sn):>7.2f}x{differ:>12d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small" if torch.cuda.is_available() else "tiny")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--table", choices=("all", "samplers", "before-after"), default="all")
    args = ap.parse_args()
    if args.table in ("all", "before-after"):
        before_after(args.steps, args.guidance, args.repeats)
    if args.table == "before-after":
        return

    from kinetype.model import Autoencoder, KineTyNet
    from kinetype.pipeline import Pipeline
    from kinetype.sample import SAMPLERS
    from kinetype.train.config import PRESETS

    preset = PRESETS[args.preset]
    if preset.model.text.kind == "clip":
        raise SystemExit(f"preset {args.preset} needs a local CLIP folder; time 'base' instead (same UNet class)")
    cfg = preset.model
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
