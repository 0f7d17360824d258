"""Do the colours a caption names reach the clip? Models side by side on appearance phrases a user
would type (``kinetype generate WORD --style PHRASE``): each (text, background) pair of the list below,
said two ways, on a few templates and seeds, with the engine's glyph layout.

    python benchmarks/caption_colours.py --models models/kinetype,RUN/pipeline --seeds 2 --steps 15

Prints per model: CIEDE2000 ΔE of the text and of the background against the named colours (mean
colours inside the eroded glyph mask and away from the dilated one, on the frames where the engine's
render is at rest: the measure of ``kinetype eval``), the share of clips within ΔE 20 of both, and
how much the clip changes when only the named colours do (mean absolute change, 0-255, between the
clips of one seed and template under two phrases): near 0 means the caption's colours are ignored.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kinetype.eval.measures import delta_e, dilate, erode, mean_colour  # noqa: E402
from kinetype.eval.score import BACKGROUND_GAP_PX  # noqa: E402
from kinetype.pipeline import load_pipeline  # noqa: E402
from kinetype.render import render_clip  # noqa: E402
from kinetype.render.palettes import COLOURS  # noqa: E402
from kinetype.render.templates import default_templates, get_template, load_templates  # noqa: E402

# (text, background): light on dark and dark on light, warm and cool, all above WCAG contrast 4.5.
PAIRS = (("white", "black"), ("black", "white"), ("yellow", "navy"), ("navy", "sand"), ("hot pink", "midnight blue"),
         ("cream", "deep red"), ("charcoal", "mint"), ("gold", "forest green"))
PHRASES = ("Bold sans-serif letters in solid {text} on a plain {background} background.", "{text} text on {background}")
TEMPLATES = ("fade-out-ltr", "flash-in-ltr", "drop-bounce-in-centre")  # each at rest for part of the clip
GOOD = 20.0  # ΔE2000 within which a colour reads as the one named


def measure(pipe, seeds: int, steps: int, word: str) -> dict[str, float]:
    templates = load_templates(default_templates())
    rows, clips = [], {}
    for tid, (text, background), phrase, seed in itertools.product(TEMPLATES, PAIRS, PHRASES, range(seeds)):
        ref = render_clip(get_template(templates, tid), word, seed, size=pipe.size_px, num_frames=pipe.num_frames,
                          fps=pipe.fps, pixels=False)
        style = phrase.format(text=text, background=background)
        frames = pipe([style], [ref.captions.dynamic], [ref.captions.word], ref.text_mask[None].astype(np.float32),
                      steps=steps, seed=seed)[0]
        rest = np.flatnonzero(ref.at_rest)
        truth = ref.text_mask[rest]
        t = mean_colour(frames[rest], erode(truth, 1))
        b = mean_colour(frames[rest], ~dilate(truth, BACKGROUND_GAP_PX))
        rows.append((float(delta_e(t, COLOURS[text])), float(delta_e(b, COLOURS[background]))))
        clips.setdefault((tid, phrase, seed), []).append(frames.astype(np.int16))
    change = [np.abs(a - b).mean() for group in clips.values() for a, b in itertools.combinations(group, 2)]
    de = np.array(rows)
    return {"text": float(de[:, 0].mean()), "background": float(de[:, 1].mean()),
            "within": float(((de[:, 0] <= GOOD) & (de[:, 1] <= GOOD)).mean()), "change": float(np.mean(change)),
            "clips": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="models/kinetype", help="comma-separated pipeline folders")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--word", default="Hello")
    args = ap.parse_args()
    table = Table(title=f"named colours (--style), {len(PAIRS)} pairs x {len(PHRASES)} phrasings x "
                        f"{len(TEMPLATES)} templates x {args.seeds} seeds, {args.steps} steps")
    for col in ("model", "ΔE text", "ΔE bg", f"both within ΔE {GOOD:g}", "change when only the colours do"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model in args.models.split(","):
        r = measure(load_pipeline(model), args.seeds, args.steps, args.word)
        table.add_row(model, f"{r['text']:.1f}", f"{r['background']:.1f}", f"{r['within']:.0%}", f"{r['change']:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
