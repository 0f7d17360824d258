"""Legibility through the model: the autoencoder's reconstructions, and generation with / without glyph layout.

Two measurements the model issue asks for, with the same OCR as ``legibility.py`` (Tesseract
``--psm 7`` on the middle at-rest frame):

* ``--autoencoder DIR`` (a kinetype pipeline folder or a diffusers AutoencoderKL folder): OCR of
  at-rest frames of engine renders, before and after encode → decode, at the autoencoder's size;
* ``--model DIR`` (a trained pipeline folder): OCR of generated clips for random (template, word,
  seed), with the engine's glyph layout as input and with ``--no-glyph``, on the frames where the
  engine's reference render of the same template is at rest.

Usage: ``python benchmarks/model_legibility.py --autoencoder runs/ae/pipeline [--n 100] [--size 256]``
       ``python benchmarks/model_legibility.py --model runs/video/pipeline [--n 100] [--steps 25]``
Prints a table; runs on CUDA when available (the numbers mean little for CPU-sized models).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from legibility import random_jobs, read_at_rest  # noqa: E402

from kinetype.render import render_clip  # noqa: E402
from kinetype.render.templates import load_templates  # noqa: E402


def jobs(n: int, seed: int) -> list[tuple]:
    """The same (template, word, seed) draws as legibility.py."""
    templates = load_templates()
    return [(templates[k], word, s) for k, s, word in random_jobs(n, seed, len(templates))]


def read(frames: np.ndarray, rest: np.ndarray, word: str) -> bool:
    return read_at_rest(frames, rest).lower() == word.lower()


def autoencoder_legibility(folder: Path, n: int, size: int, seed: int) -> list[tuple[str, float, int]]:
    import torch

    from kinetype.model.autoencoder import Autoencoder

    if (folder / "model_index.json").is_file():
        folder = folder / "autoencoder"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ae = Autoencoder.from_folder(folder).to(device).eval()
    before, after = [], []
    for template, word, s in jobs(n, seed):
        clip = render_clip(template, word, s, size=size)
        if not clip.at_rest.any():
            continue
        video = torch.from_numpy(np.ascontiguousarray(clip.frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        with torch.no_grad():
            rec = ae.decode(ae.encode(video[None].to(device)))[0]
        rec = rec.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        before.append(read(clip.frames, clip.at_rest, word))
        after.append(read(rec, clip.at_rest, word))
    return [("engine frames", float(np.mean(before)), len(before)),
            ("after encode -> decode", float(np.mean(after)), len(after))]


def glyph_layout_legibility(folder: Path, n: int, steps: int, seed: int) -> list[tuple[str, float, int]]:
    import torch

    from kinetype.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(folder, device="cuda" if torch.cuda.is_available() else "cpu")
    results = {True: [], False: []}
    for template, word, s in jobs(n, seed):
        ref = render_clip(template, word, s, size=pipe.size_px, num_frames=pipe.num_frames, fps=pipe.fps)
        if not ref.at_rest.any():
            continue
        c = ref.captions
        for glyph in (True, False):
            masks = ref.text_mask[None].astype("float32") if glyph else None
            clip = pipe([c.static], [c.dynamic], [c.word], masks, num_frames=pipe.num_frames, steps=steps, seed=s)[0]
            results[glyph].append(read(np.asarray(clip), ref.at_rest, word))
    return [("generated, with glyph layout", float(np.mean(results[True])), len(results[True])),
            ("generated, text captions only", float(np.mean(results[False])), len(results[False]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--autoencoder", type=Path, help="pipeline folder or diffusers AutoencoderKL folder")
    what.add_argument("--model", type=Path, help="trained pipeline folder")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--size", type=int, default=256, help="frame size for --autoencoder")
    ap.add_argument("--steps", type=int, default=25, help="sampling steps for --model")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not shutil.which("tesseract"):
        sys.exit("tesseract not found: apt-get install tesseract-ocr (or `make sysdeps`)")
    rows = (autoencoder_legibility(args.autoencoder, args.n, args.size, args.seed) if args.autoencoder
            else glyph_layout_legibility(args.model, args.n, args.steps, args.seed))
    print("\nOCR read correctly (case-insensitive), tesseract --psm 7 on the middle at-rest frame")
    print(f"{'frames':34s} {'read':>7s} {'clips':>6s}")
    for name, share, count in rows:
        print(f"{name:34s} {share:6.1%} {count:6d}")


if __name__ == "__main__":
    main()
