"""Legibility against training time: `kinetype eval`'s measures at a run's checkpoints.

For each checkpoint of the image and video stages of a whole-pipeline run (``kinetype train``,
default ``runs/kinetype``), the pipeline it would export (EMA weights) generates ``--n`` clips of
the held-out eval set with the engine's glyph layout, and PP-OCR reads them. Training time is the
sum of the logged step times up to that checkpoint, the earlier stages included.

Usage: ``python benchmarks/legibility_curve.py [--run runs/kinetype] [--n 24] [--steps 20] [--every 2]``
Prints a table; writes ``--out``/curve.png and curve.json. ``--times`` prints only each stage's
training time: the sum of its logged step times, and its steps times the median step — what the
stage costs on an unshared machine, since a step the machine spent on other work logs that wait too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def stage_seconds(run: Path) -> dict[int, float]:
    """{step: seconds of training up to and including it} from metrics.jsonl."""
    out, total = {}, 0.0
    for line in open(run / "metrics.jsonl"):
        rec = json.loads(line)
        total += rec["step_s"]
        out[rec["step"]] = total
    return out


def stage_times(root: Path) -> list[tuple[str, int, float, float]]:
    """[(stage, steps, logged minutes, steps × median step in minutes)] of the stages run so far."""
    rows = []
    for stage in ("autoencoder", "image", "video"):
        path = root / stage / "metrics.jsonl"
        if path.is_file():
            step_s = [json.loads(line)["step_s"] for line in open(path)]
            rows.append((stage, len(step_s), sum(step_s) / 60, len(step_s) * float(np.median(step_s)) / 60))
    return rows


def print_times(root: Path) -> None:
    rows = stage_times(root)
    rows.append(("all", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)))
    print(f"training time of {root}, minutes")
    print(f"{'stage':<13}{'steps':>6}{'logged':>9}{'steps x median step':>21}")
    for stage, steps, logged, typical in rows:
        print(f"{stage:<13}{steps:>6}{logged:>9.1f}{typical:>21.1f}")


def plot(points: list[dict], path: Path) -> None:
    """A small line plot with PIL: word accuracy (case-insensitive) against training minutes."""
    from PIL import Image, ImageDraw

    w, h, pad = 640, 360, 48
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    xmax = max(p["minutes"] for p in points) * 1.05 or 1.0
    sx = lambda m: pad + (w - 2 * pad) * m / xmax  # noqa: E731
    sy = lambda a: h - pad - (h - 2 * pad) * a  # noqa: E731
    d.line([(pad, pad), (pad, h - pad), (w - pad, h - pad)], fill="black")
    for a in (0.0, 0.25, 0.5, 0.75, 1.0):
        d.text((6, sy(a) - 6), f"{a:.0%}", fill="black")
        d.line([(pad, sy(a)), (w - pad, sy(a))], fill=(225, 225, 225))
    for m in np.linspace(0, xmax, 6):
        d.text((sx(m) - 8, h - pad + 6), f"{m:.0f}", fill="black")
    d.text((w // 2 - 80, h - 20), "training time (minutes)", fill="black")
    d.text((pad, 12), "PP-OCR word accuracy of generated clips (with glyph layout)", fill="black")
    for key, colour in (("word_acc_ci", (30, 90, 200)), ("ned", (200, 120, 30))):
        xy = [(sx(p["minutes"]), sy(p[key])) for p in points]
        if len(xy) > 1:
            d.line(xy, fill=colour, width=2)
        for x, y in xy:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    d.text((w - 200, 30), "word accuracy", fill=(30, 90, 200))
    d.text((w - 200, 44), "1 - normalised edit distance", fill=(200, 120, 30))
    img.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/kinetype"))
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--steps", type=int, default=20, help="sampling steps")
    ap.add_argument("--every", type=int, default=1, help="score every k-th checkpoint (the last is always scored)")
    ap.add_argument("--stages", default="image,video")
    ap.add_argument("--out", type=Path, default=Path("eval/curve"))
    ap.add_argument("--times", action="store_true", help="print each stage's training time only")
    args = ap.parse_args()
    print_times(args.run)
    if args.times:
        return

    from kinetype.eval import evaluate_model
    from kinetype.train.loop import pipeline_at_checkpoint

    offset = 0.0
    ae = args.run / "autoencoder"
    if (ae / "metrics.jsonl").is_file():
        offset = max(stage_seconds(ae).values())
    points = []
    for stage in args.stages.split(","):
        run = args.run / stage
        if not (run / "metrics.jsonl").is_file():
            continue
        seconds = stage_seconds(run)
        ckpts = sorted((run / "checkpoints").glob("step_*[0-9]"))
        chosen = [c for i, c in enumerate(ckpts) if i % args.every == args.every - 1 or c == ckpts[-1]]
        for ck in chosen:
            step = int(ck.name.split("_")[1])
            pipe = pipeline_at_checkpoint(run, ck)
            rep = evaluate_model(pipe, n=args.n, steps=args.steps, progress=False)
            s = rep.summary
            points.append({"stage": stage, "step": step, "minutes": (offset + seconds[step]) / 60,
                           **{k: float(s[k]) for k in ("word_acc_ci", "word_acc_exact", "ned", "mask_iou",
                                                       "text_delta_e", "background_delta_e", "flicker")}})
            p = points[-1]
            print(f"{stage:<6}{step:>6}{p['minutes']:>8.1f} min  acc {p['word_acc_ci']:.3f}  NED {p['ned']:.3f}  "
                  f"IoU {p['mask_iou']:.3f}  dE text {p['text_delta_e']:.1f} bg {p['background_delta_e']:.1f}", flush=True)
        offset += max(seconds.values())
    if not points:
        sys.exit(f"error: {args.run}: no image or video checkpoints to score")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curve.json").write_text(json.dumps(points, indent=1) + "\n")
    plot(points, args.out / "curve.png")
    print(f"\nlegibility curve: {args.run}, n={args.n}, {args.steps} sampling steps, PP-OCR, with glyph layout")
    print(f"{'stage':<7}{'step':>6}{'minutes':>9}{'word acc':>10}{'exact':>7}{'NED':>7}{'IoU':>7}{'dE text':>9}{'dE bg':>7}")
    for p in points:
        print(f"{p['stage']:<7}{p['step']:>6}{p['minutes']:>9.1f}{p['word_acc_ci']:>10.3f}{p['word_acc_exact']:>7.3f}"
              f"{p['ned']:>7.3f}{p['mask_iou']:>7.3f}{p['text_delta_e']:>9.1f}{p['background_delta_e']:>7.1f}")
    print(f"wrote {args.out / 'curve.png'} and curve.json")


if __name__ == "__main__":
    main()
