"""Ways of making and steadying clips on trained models, side by side: mitigating-gradient guidance
at several scales, generation checked by OCR, the noise prior (models trained on independent or
correlated noise, and a model sampled from a prior it was not trained on), given frames (clips
from text, animated from the engine's first frame, looped), and longer clips (a model's own frames,
4x as many from its keyframes by its interpolator, the same looped, and as many sampled directly). Each row is one `kinetype eval model`
run, through the same code (:func:`kinetype.eval.evaluate_model`) on the same eval items.

    python benchmarks/motion_options.py mg --model models/kinetype --scales 0,0.1,0.2,0.5 --n 20 --steps 15
    python benchmarks/motion_options.py verify --model models/kinetype --candidates 4 --n 20
    python benchmarks/motion_options.py noise --models RUN_A/pipeline,RUN_B/pipeline --priors mixed:0.5 --n 20
    python benchmarks/motion_options.py given --models models/kinetype,RUN/pipeline --n 20 --steps 15
    python benchmarks/motion_options.py frames --model RUN/pipeline --n 20 --steps 15 [--rows interpolated,looped]

Prints option -> the equivalent command -> flicker (0-255, where the engine's reference is still),
CIEDE2000 ΔE of the text and of the background against the caption's colours, word accuracy
(PP-OCR, case-insensitive, and with look-alikes merged), NED, motion IoU (the text region found in
each frame against the engine's glyph masks) and seconds per clip (generation, with --verify also
every candidate and its reading), plus the candidates sampled per clip, the loop seam (the jump from
the last frame back to the first over the median step; <= 1 loops) and, animating a still, the
first frame's mean absolute error from it (0-255). ``--out DIR`` keeps each
row's report (report.json, report.md, contact sheet) in DIR/<option>/.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinetype.eval import evaluate_model  # noqa: E402
from kinetype.eval.report import EvalReport  # noqa: E402

COLUMNS = (("flicker", "flicker", "{:.1f}"), ("ΔE text", "text_delta_e", "{:.1f}"),
           ("ΔE bg", "background_delta_e", "{:.1f}"), ("word acc", "word_acc_ci", "{:.1%}"),
           ("merged", "word_acc_merged", "{:.1%}"), ("NED", "ned", "{:.3f}"), ("motion IoU", "mask_iou", "{:.3f}"),
           ("loop seam", "loop_seam", "{:.2f}"), ("first MAE", "first_mae", "{:.1f}"),
           ("s/clip", "seconds_per_clip", "{:.2f}"), ("candidates", "candidates_per_clip", "{:.2f}"))


def number_list(text: str, kind=float) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def prior_list(text: str) -> list:
    """``mixed:0.5,progressive:0.8`` -> NoiseConfigs, checked by the rule models are."""
    from kinetype.model.config import NoiseConfig

    priors = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        kind, _, rho = item.partition(":")
        try:
            prior = NoiseConfig(kind, float(rho or 0))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected KIND:CORRELATION, got {item!r}") from None
        if problem := prior.problem():
            raise argparse.ArgumentTypeError(f"{item}: {problem}")
        priors.append(prior)
    return priors


def describe(prior) -> str:
    return prior.kind if prior.kind == "independent" else f"{prior.kind} {prior.correlation:g}"


def rows_to_run(args):
    """(row label, model folder, noise prior to sample from or None for the model's own,
    evaluate_model keyword arguments) for each option compared."""
    if args.what == "mg":
        return [(f"--mg {s:g}", args.model, None, {"mg": s}) for s in args.scales]
    if args.what == "verify":
        return [(f"--verify {k}", args.model, None, {"verify": k}) for k in sorted({1, args.candidates})]
    models = args.models or [args.model]
    if args.what == "frames":  # the model's own clip, then --frames F from keyframes and sampled directly
        from kinetype.errors import KinetypeError
        from kinetype.pipeline import model_path, read_model_folder

        folder = read_model_folder(model_path(args.model))
        frames = args.frames or folder.interpolated_frames
        if frames is None:
            raise KinetypeError(f"{folder.path} has no interpolator: give --frames to compare direct sampling only")
        name = args.model or "the bundled model"
        rows = {"own": (f"{name}, its {folder.num_frames} frames", args.model, None, {}),
                "direct": (f"{frames} frames sampled directly", args.model, None, {"frames": frames, "interpolate": False})}
        if frames == folder.interpolated_frames:
            rows["interpolated"] = (f"{frames} frames: keyframes + interpolation", args.model, None, {"frames": frames})
            rows["looped"] = (f"{frames} frames, looped: the last gap closed onto keyframe 0", args.model, None,
                              {"frames": frames, "given": "loop"})
        return [rows[k] for k in (args.rows or "own,interpolated,direct").split(",") if k in rows]
    if args.what == "given":  # each model from text, animated and looped (pinned; unpinned where it has the planes)
        from kinetype.pipeline import model_path, read_model_folder

        rows = []
        for m in models:
            planes = read_model_folder(model_path(m)).model.denoiser.given_frames
            for row in (args.rows or "none,first,loop,first-unpinned,loop-unpinned").split(","):
                g, _, unpinned = row.partition("-")
                if g not in ("none", "first", "loop") or (unpinned and (g == "none" or not planes)):
                    continue
                label = f"{m or 'the bundled model'}{'' if g == 'none' else f', --given {g}'}{' --no-pin' if unpinned else ''}"
                rows.append((label, m, None, {} if g == "none" else {"given": g, **({"pin": False} if unpinned else {})}))
        return rows
    return ([(f"{m or 'the bundled model'}", m, None, {}) for m in models]
            + [(f"{models[0] or 'the bundled model'} sampled from {describe(p)}", models[0], p, {}) for p in args.priors])


def extend_frame_table(pipe, frames: int) -> None:
    """Let ``pipe`` sample ``frames`` frames at once where its denoiser's ``max_frames`` is lower: the
    temporal layers' frame positions are a fixed sinusoidal table, not weights, so it can be lengthened
    (the model has still only been trained on its own clip length: this is the comparison's point)."""
    from dataclasses import replace

    from kinetype.model.attention import TemporalTransformer, frame_encoding

    den = pipe.net.denoiser
    for m in den.modules():
        if isinstance(m, TemporalTransformer):
            m.frame_position = frame_encoding(frames, m.frame_position.shape[1]).to(m.frame_position)
    den.cfg = replace(den.cfg, max_frames=frames)
    pipe.net.cfg = replace(pipe.net.cfg, denoiser=den.cfg)


def command(args, model, extra: dict) -> str:
    extra = dict(extra)
    direct = extra.pop("interpolate", True) is False
    flags = " ".join("--no-pin" if k == "pin" else f"--{k} {v:g}" if isinstance(v, float) else f"--{k} {v}"
                     for k, v in extra.items())
    flags += " --direct" if direct else ""
    model = f" --model {model}" if model else ""
    return f"kinetype eval model{model} --n {args.n} --steps {args.steps} --seed {args.seed} {flags}".rstrip()


def cell(report: EvalReport, key: str, fmt: str) -> str:
    v = report.summary.get(key, float("nan"))
    return "n/a" if v is None or math.isnan(v) else fmt.format(v)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("mg", "verify", "noise", "given", "frames"),
                    help="mg: --mg at each of --scales; verify: --verify 1 and N; noise: each of --models, "
                         "then the first sampled from each of --priors; given: each of --models from text, "
                         "animating the first frame and looped (pinned, and unpinned where trained with given frames); frames: "
                         "--model's own clip, --frames from its keyframes by its interpolator, and sampled directly")
    ap.add_argument("--model", type=Path, default=None, help="pipeline folder (default: the bundled model)")
    ap.add_argument("--models", type=lambda t: [Path(p) for p in t.split(",") if p], default=[],
                    help="noise, given: pipeline folders, comma-separated (e.g. the same run with each prior or loss)")
    ap.add_argument("--priors", type=prior_list, default=[],
                    help="noise: KIND:CORRELATION priors to sample the first model from, comma-separated")
    ap.add_argument("--scales", type=number_list, default=[0.0, 0.1, 0.2, 0.5], help="mg scales, comma-separated")
    ap.add_argument("--frames", type=int, default=None,
                    help="frames: frames per clip (default: the interpolator's, (n+1) x the model's)")
    ap.add_argument("--rows", default=None,
                    help="frames: which rows, comma-separated (own, interpolated, looped, direct; default the first, "
                         "second and fourth); given: which of none, first, loop, first-unpinned, loop-unpinned (all)")
    ap.add_argument("--candidates", type=int, default=4, help="verify: N of --verify N (compared with 1)")
    ap.add_argument("--n", type=int, default=20, help="eval clips per option")
    ap.add_argument("--steps", type=int, default=15, help="sampling steps")
    ap.add_argument("--seed", type=int, default=0, help="eval set seed (the same items for every option)")
    ap.add_argument("--workers", type=int, default=None, help="OCR worker processes (default: all cores)")
    ap.add_argument("--out", type=Path, default=None, help="keep each option's report in OUT/<option>/")
    ap.add_argument("--quiet", action="store_true", help="no progress bars or per-option reports")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from kinetype.errors import KinetypeError
    from kinetype.pipeline import load_pipeline

    started = time.perf_counter()
    pipes = {}  # each model loaded once: its rows sample the same weights
    try:
        rows = []
        for label, model, prior, extra in rows_to_run(args):
            pipe = pipes[model] if model in pipes else pipes.setdefault(model, load_pipeline(model))
            if extra.get("frames", 0) > pipe.net.cfg.denoiser.max_frames and extra.get("interpolate", True) is False:
                label += f" (frame table extended past the model's {pipe.net.cfg.denoiser.max_frames})"
                extend_frame_table(pipe, extra["frames"])
            trained = pipe.noise
            if prior is not None:
                pipe.noise = prior
                label = f"{label} (trained on {describe(trained)})"
            elif args.what == "noise":
                label = f"{label} (its own prior: {describe(trained)})"
            out = args.out / re.sub(r"[^A-Za-z0-9.]+", "-", label).strip("-") if args.out else None
            try:
                report = evaluate_model(pipe, n=args.n, seed=args.seed, steps=args.steps, workers=args.workers,
                                        out=out, progress=not args.quiet, **extra)
            finally:
                pipe.noise = trained
            cmd = command(args, model, extra)
            rows.append((label, cmd if prior is None else f"{cmd}, with pipe.noise = {prior}", report))
    except KinetypeError as e:
        sys.exit(f"error: {e}")
    device = next(iter(pipes.values())).device.type
    on = "" if args.what in ("noise", "given") else f" on {args.model or 'the bundled model'}"
    table = Table(title=f"options: {args.what}{on} "
                        f"({device}, n={args.n}, {args.steps} steps, seed {args.seed})")
    table.add_column("option")
    table.add_column("command")
    for name, _, _ in COLUMNS:
        table.add_column(name, justify="right")
    for label, cmd, report in rows:
        table.add_row(label, cmd, *(cell(report, key, fmt) for _, key, fmt in COLUMNS))
    console = Console(width=max(Console().width, 200))
    console.print(table)
    console.print(f"{len(rows)} options in {(time.perf_counter() - started) / 60:.1f} min", highlight=False)


if __name__ == "__main__":
    main()
