"""Sampling speed: seconds per clip with classifier-free guidance per sampler, ms and FLOPs per solver
step, achieved TFLOP/s and MFU; the sampling loop before issue 15 against the new, side by side;
and `kinetype generate`'s two costs before and after issue 11.

    python benchmarks/sample_speed.py                 # `small` on CUDA, `tiny` on the CPU, random weights
    python benchmarks/sample_speed.py --preset base   # 256 px x 24 frames (the paper's clip size)
    python benchmarks/sample_speed.py --preset cpu --model models/kinetype   # a trained model folder
    python benchmarks/sample_speed.py --table generate-before-after --steps 15   # issue 11 (needs a model)
    python benchmarks/sample_speed.py --table flops --estimate H200 --mfu 0.3    # FLOPs; GPU times estimated
    python benchmarks/sample_speed.py --table frames --model RUN/pipeline --steps 15   # longer clips: keyframes +
                                                  # interpolation against sampling every frame (a folder with an interpolator)

Random weights unless --model (speed does not depend on them); glyph layout on; the decode through
the autoencoder is included in s/clip. FLOPs per solver step: the denoiser's forward on the guided
batch (conditional and blank rows), counted on the meta device; MFU against the GPU's dense bf16 peak
(train_speed.PEAK_BF16_TFLOPS) or this CPU's measured matmul peak.

The old loop (``old_sample``, a reference implementation of sampling before issue 15): each caption
kind tokenised to its longest and encoded apart, the time copied to the device at every step, the
solver's coefficients computed from device-side times each step. The new: ``kinetype.sample``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import PEAK_BF16_TFLOPS, expanded_cross_attention, measured_cpu_peak, old_and_new_times  # noqa: E402

from kinetype.model import Autoencoder, KineTyNet  # noqa: E402
from kinetype.model.autoencoder import resize_masks  # noqa: E402
from kinetype.model.denoiser import Context  # noqa: E402
from kinetype.model.objective import alpha_sigma, predict_x0_eps  # noqa: E402
from kinetype.model.text import ByteTokenizer, Tokens  # noqa: E402
from kinetype.pipeline import DEFAULT_MODEL_DIR, Pipeline, load_pipeline  # noqa: E402
from kinetype.render.settings import ClipSettings  # noqa: E402
from kinetype.sample import SAMPLERS  # noqa: E402
from kinetype.train.config import PRESETS  # noqa: E402

PROMPT = (["gold letters on a deep red background"], ["the letters drop in one after another"], ["H^|e|l|l|o"])


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def pipeline(args) -> Pipeline:
    if args.model:
        return Pipeline.from_pretrained(args.model, device=str(device()))
    preset = PRESETS[args.preset]
    if preset.model.text.kind == "clip":
        raise SystemExit(f"preset {args.preset} needs a local CLIP folder; time 'base' instead (same denoiser class)")
    torch.manual_seed(0)
    cfg = preset.model
    return Pipeline(KineTyNet(cfg).eval(), Autoencoder(cfg.autoencoder).eval(), objective=cfg.objective, stage="video",
                    size_px=preset.data.size_px, num_frames=preset.data.num_frames,
                    fps=ClipSettings.fps // preset.data.frame_stride).to(device())


def layout(pipe: Pipeline) -> np.ndarray:
    masks = np.zeros((1, pipe.num_frames, pipe.size_px, pipe.size_px), np.float32)
    masks[..., pipe.size_px // 3 : 2 * pipe.size_px // 3, 4:-4] = 1
    return masks


def step_flops(model_cfg, size_px: int, num_frames: int, guidance: float) -> float:
    """FLOPs of one solver step (the guided denoiser forward) for one clip, on the meta device
    (full-length captions: what a compiled pipeline computes)."""
    from torch.utils.flop_counter import FlopCounterMode

    reps = 2 if guidance != 1.0 else 1
    with torch.device("meta"):
        net = KineTyNet(model_cfg)
        lat = size_px // model_cfg.autoencoder.downsample_factor
        length = net.tokenizer.max_tokens
        tok = Tokens(torch.zeros(reps, length, dtype=torch.long), torch.ones(reps, length, dtype=torch.bool))
        ctx = net.encode(tok, tok, tok)
        x = torch.randn(reps, num_frames, model_cfg.autoencoder.latent_channels, lat, lat)
        with FlopCounterMode(display=False) as fc:
            net.denoise(x, torch.rand(reps), ctx, torch.rand(reps, num_frames, lat, lat))
    return float(fc.get_total_flops())


def flops_table(args) -> None:
    """FLOPs per solver step of each preset's clip, and (--estimate) the seconds they would take."""
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if args.estimate and k in args.estimate), None)
    print(f"\nFLOPs per solver step (guidance {args.guidance}, one clip), counted on the meta device")
    if peak:
        print(f"ESTIMATE, not a measurement: ms per step and s per {args.steps}-step clip on an {args.estimate} "
              f"(dense bf16 peak {peak:g} TFLOP/s) at {100 * args.mfu:.0f}% MFU")
    print(f"{'preset':<8}{'clip':>14}{'GFLOP/step':>12}" + (f"{'ms/step':>9}{'s/clip':>8}" if peak else ""))
    for name, preset in PRESETS.items():
        if preset.model.text.kind == "clip":
            continue
        d = preset.data
        flops = step_flops(preset.model, d.size_px, d.num_frames, args.guidance)
        clip = f"{d.size_px}x{d.size_px}x{d.num_frames}"
        est = flops / (peak * 1e12 * args.mfu) if peak else None
        print(f"{name:<8}{clip:>14}{flops / 1e9:>12.1f}" + (f"{1000 * est:>9.2f}{est * args.steps:>8.3f}" if peak else ""))


def old_sample(pipe: Pipeline, masks: np.ndarray, steps: int, guidance: float, seed: int) -> np.ndarray:
    """DPM-Solver++(2M) as sampled before issue 15 (see the module docstring)."""
    net, dev, b = pipe.net, pipe.device, 1
    lat = pipe.size_px // pipe.autoencoder.factor
    shape = (b, pipe.num_frames, pipe.autoencoder.cfg.latent_channels, lat, lat)
    m = torch.as_tensor(masks)
    glyph = resize_masks(m, (lat, lat)).to(dev).repeat(2, 1, 1, 1)

    def encode(caps):
        tokens = ByteTokenizer(net.cfg.text.max_tokens)(list(caps) + [""] * b)
        length = int(tokens.mask.sum(1).max())
        return net.text_encoder(Tokens(tokens.ids[:, :length], tokens.mask[:, :length]).to(dev))

    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        ctx = Context(*(encode(c) for c in PROMPT))

        def denoise(x, t):
            tt = t.to(dev).float().expand(2 * b)
            out = net.denoise(x.repeat(2, 1, 1, 1, 1), tt, ctx, glyph).float()
            cond, uncond = out.chunk(2)
            return predict_x0_eps(x, uncond + guidance * (cond - uncond), tt[:b], pipe.objective)

        x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dev)
        times = torch.linspace(1.0, 0.0, steps + 1)
        prev_x0, prev_h = None, None
        for i in range(steps):
            t, s = times[i], times[i + 1]
            x0, _ = denoise(x, t)
            alpha_t, sigma_t = alpha_sigma(t, pipe.objective)
            alpha_s, sigma_s = alpha_sigma(s, pipe.objective)
            h = (torch.log(alpha_s) - torch.log(sigma_s)) - (torch.log(alpha_t) - torch.log(sigma_t))
            d = x0
            if prev_x0 is not None and torch.isfinite(h) and torch.isfinite(prev_h):
                r = prev_h / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
            x = (sigma_s / sigma_t) * x + (alpha_s - alpha_t * sigma_s / sigma_t) * d
            prev_x0, prev_h = x0, h
        out = pipe.autoencoder.decode(x, m.to(dev))
    return ((out.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 1, 3, 4, 2).cpu().numpy()


def samplers_table(args) -> None:
    pipe = pipeline(args)
    masks = layout(pipe)
    flops = step_flops(pipe.net.cfg, pipe.size_px, pipe.num_frames, args.guidance)
    bf16 = device().type == "cuda"
    if device().type == "cuda":
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        dev = f"{name}, dense bf16 peak {peak} TFLOP/s"
    else:
        peak = measured_cpu_peak(torch.float32)  # sampling computes in float32 on the CPU
        dev = f"CPU ({torch.get_num_threads()} threads), measured float32 matmul peak {peak:.2f} TFLOP/s"
    rows = []
    for name in SAMPLERS:
        pipe(*PROMPT, masks, steps=2, sampler=name, guidance=args.guidance)  # warm-up
        sync()
        if device().type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            pipe(*PROMPT, masks, steps=args.steps, sampler=name, guidance=args.guidance, seed=r)
            sync()
            times.append(time.perf_counter() - t0)
        mem = torch.cuda.max_memory_allocated() / 2**30 if device().type == "cuda" else None
        rows.append((name, float(np.median(times)), mem))

    what = args.model or f"preset {args.preset}, random weights"
    print(f"\nsample speed: {what}, {pipe.size_px}x{pipe.size_px}x{pipe.num_frames} clip, {args.steps} steps, guidance "
          f"{args.guidance}, {dev}{', bf16 autocast' if bf16 else ''}, torch {torch.__version__}")
    print(f"FLOPs per solver step (guided denoiser forward): {flops / 1e9:.1f} GFLOP")
    print(f"{'sampler':<9}{'s/clip':>9}{'clips/s':>9}{'ms/step':>9}{'TFLOP/s':>9}{'MFU':>8}{'peak GB':>9}{'vs ddim':>9}")
    base = rows[0][1]
    for name, s, mem in rows:
        tflops = flops * args.steps / s / 1e12
        mfu = f"{100 * tflops / peak:.2f}%" if peak else "-"
        print(f"{name:<9}{s:>9.3f}{1 / s:>9.2f}{1000 * s / args.steps:>9.1f}{tflops:>9.3f}{mfu:>8}"
              f"{(f'{mem:.1f}' if mem else '-'):>9}{s / base:>8.2f}x")

    if pipe.net.cfg.text.kind == "byte":
        a = old_sample(pipe, masks, args.steps, args.guidance, seed=0)
        b = pipe(*PROMPT, masks, steps=args.steps, sampler="dpm++", guidance=args.guidance, seed=0)
        differ = int(np.abs(a.astype(int) - b.astype(int)).max())
        t_old, t_new = old_and_new_times(lambda: (old_sample(pipe, masks, args.steps, args.guidance, 0), sync()),
                                         lambda: (pipe(*PROMPT, masks, steps=args.steps, guidance=args.guidance), sync()),
                                         args.repeats)
        print(f"\nsampling before issue 15 (reference implementation here) against now, dpm++, best of {args.repeats}, "
              f"alternately: old {t_old:.3f} s, new {t_new:.3f} s ({t_old / t_new:.2f}x); clips differ by at most "
              f"{differ} of 255")


def generate_before_after(steps: int, guidance: float, repeats: int, model: str | None) -> None:
    """`generate`'s two costs with a trained model, old path against new (issue 11): the engine's
    reference render (every frame painted, against ``pixels=False``) and the sampling (caption keys
    and values copied to every pixel and frame, against the repeat folded into the queries)."""
    from kinetype.model.attention import Attention
    from kinetype.render import render_clip
    from kinetype.render.templates import get_template, load_templates

    if model is None and not (DEFAULT_MODEL_DIR / "model_index.json").is_file():
        print(f"\n(generate before/after: no model at {DEFAULT_MODEL_DIR}; pass --model DIR)")
        return
    pipe = load_pipeline(model)
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

    print(f"\ngenerate, {model or 'bundled model'} ({pipe.size_px} px x {pipe.num_frames} frames), {steps} steps, guidance "
          f"{guidance}, CPU ({torch.get_num_threads()} threads); seconds, best of {repeats}, old and new alternately")
    print(f"{'clip':<34}{'render old':>11}{'new':>7}{'sample old':>11}{'new':>7}{'total old':>10}{'new':>7}{'old/new':>8}"
          f"{'max px diff':>12}")
    for name, ro, rn, so, sn, differ in rows:
        print(f"{name:<34}{ro:>11.3f}{rn:>7.3f}{so:>11.3f}{sn:>7.3f}{ro + so:>10.3f}{rn + sn:>7.3f}"
              f"{(ro + so) / (rn + sn):>7.2f}x{differ:>12d}")


def frames_table(args) -> None:
    """Seconds per clip of a model folder with an interpolator: its own clip, (n + 1) x the frames from its
    keyframes by the interpolator, and as many frames sampled directly; each the median of --repeats, side
    by side, glyph layout from the engine's masks of one template."""
    from motion_options import extend_frame_table

    from kinetype.pipeline import Pipeline, read_model_folder
    from kinetype.render import render_clip
    from kinetype.render.templates import get_template, load_templates

    if not args.model:
        sys.exit("error: --table frames needs --model, a pipeline folder with an interpolator")
    folder = read_model_folder(args.model)
    if folder.interpolator is None:
        sys.exit(f"error: {args.model} has no interpolator (train one with `kinetype train --stage interpolation`)")
    pipe = Pipeline.from_folder(folder)
    template = get_template(load_templates(), "drop-bounce-in-ltr")
    many = folder.interpolated_frames
    rows = []
    for label, frames, interpolate in ((f"its own {folder.num_frames} frames", folder.num_frames, True),
                                       (f"{many} frames: keyframes + interpolation", many, True),
                                       (f"{many} frames sampled directly", many, False)):
        clip = folder.clip(frames)  # the same seconds: 4x the frames play at 4x the fps
        if not interpolate and frames > folder.model.denoiser.max_frames:
            label += f" (frame table extended past {folder.model.denoiser.max_frames})"
            extend_frame_table(pipe, frames)
        ref = render_clip(template, "Hello", 0, size=clip.size, num_frames=clip.frames, fps=clip.fps, pixels=False)
        masks = ref.text_mask[None].astype(np.float32)
        times = []
        for r in range(args.repeats + 1):  # the first is a warm-up
            t0 = time.perf_counter()
            pipe([ref.captions.static], [ref.captions.dynamic], [ref.captions.word], masks, num_frames=frames,
                 steps=args.steps, guidance=args.guidance, seed=r, interpolate=interpolate)
            times.append(time.perf_counter() - t0)
        rows.append((label, float(np.median(times[1:]))))
    print(f"{args.model}: s/clip, {args.steps} steps, guidance {args.guidance:g}, median of {args.repeats} "
          f"({'cuda' if torch.cuda.is_available() else 'cpu'}, {torch.get_num_threads()} threads)")
    base = rows[-1][1]
    for label, sec in rows:
        print(f"  {label:<40} {sec:7.2f} s   {sec / base:5.2f}x the direct")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small" if torch.cuda.is_available() else "tiny")
    ap.add_argument("--model", default=None, help="a pipeline folder instead of random weights of --preset")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--table", choices=("samplers", "flops", "generate-before-after", "frames"), default="samplers")
    ap.add_argument("--estimate", default=None, help="with --table flops: a GPU name (H200...) to estimate times for")
    ap.add_argument("--mfu", type=float, default=0.3, help="the MFU assumed by --estimate")
    args = ap.parse_args()
    if args.table == "flops":
        flops_table(args)
    elif args.table == "frames":
        frames_table(args)
    elif args.table == "generate-before-after":
        generate_before_after(args.steps, args.guidance, args.repeats, args.model)
    else:
        samplers_table(args)


if __name__ == "__main__":
    main()
