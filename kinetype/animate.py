"""``kinetype animate``: a still design -> a clip that starts from it (DynamiCrafter's image
animation): the design's latent pinned as frame 0 while the others are sampled
(:mod:`kinetype.sample.replacement`, any model), and to a model trained with given frames
(:mod:`kinetype.model.frames`) also given as input planes; ``--to LAST`` fills the frames between
two designs, ``--loop`` leads the last frame back into the design.

1. The design (and ``--to``'s) is read and fitted to the model's square frame: converted to RGB
   (transparency over white), padded to a square with its border colour, resized; each change is
   said in one line. A missing file or one that is not an image is refused in one line.
2. The word is ``--word``, or read from the design by the eval module's PP-OCR.
3. The motion phrase picks a template as ``generate`` does; the engine's render of it for the word
   gives the captions and the glyph layout (the letters' place in every frame).
4. The pipeline samples with the design as frame 0 (and ``--to``'s as frame T-1, or for a loop the
   design again one frame past the last); the clip is written as ``generate`` writes one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from kinetype.errors import KinetypeError, random_seed
from kinetype.fsutil import check_output_file
from kinetype.generate import choose_template, default_out, write_clip
from kinetype.media import VIDEO_SUFFIXES
from kinetype.render import render_clip
from kinetype.render.words import LETTERS, validate_word
from kinetype.sample.settings import SamplingSettings

MAX_DESIGN_PIXELS = 64_000_000  # a larger "image" is a decompression bomb, not a design


def open_design(path: Path, option: str):
    """The image at ``path`` (PIL, loaded), or one line naming ``option`` and the file."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise KinetypeError(f"{option} {path}: no such file")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_DESIGN_PIXELS:
                raise KinetypeError(f"{option} {path}: {im.width}x{im.height} pixels is too large for a design "
                                    f"(at most {MAX_DESIGN_PIXELS:,})")
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise KinetypeError(f"{option} {path}: not an image kinetype can read ({' '.join(str(e).split())[:100]})") from None


def fit_design(image, size: int, option: str, echo: Callable[[str], None]) -> np.ndarray:
    """``image`` as the model's (size, size, 3) uint8 RGB frame; each change said in one line."""
    from PIL import Image

    mode = image.mode
    if mode != "RGB":
        if "A" in mode or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
            echo(f"{option}: converted from {mode} to RGB, transparency over white")
        else:
            image = image.convert("RGB")
            echo(f"{option}: converted from {mode} to RGB")
    a = np.asarray(image)
    h, w = a.shape[:2]
    if h != w:
        # Padded with the border's colour (its median): the design's background goes on, nothing is cut.
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        colour = np.median(border, axis=0).astype(np.uint8)
        side = max(h, w)
        square = np.empty((side, side, 3), np.uint8)
        square[:] = colour
        top, left = (side - h) // 2, (side - w) // 2
        square[top:top + h, left:left + w] = a
        echo(f"{option}: {w}x{h} padded to {side}x{side} with its border colour")
        a = square
    if a.shape[0] != size:
        echo(f"{option}: resized from {a.shape[0]}x{a.shape[0]} to the model's {size}x{size}")
        a = np.asarray(Image.fromarray(a).resize((size, size), Image.LANCZOS))
    return np.ascontiguousarray(a, dtype=np.uint8)


def read_word(design: np.ndarray, option: str, read: Callable[[np.ndarray], str] | None = None) -> str:
    """The word in a design, read by PP-OCR (the eval module's reader, letters only): one line asking
    for ``--word`` when no word of 1-12 letters is read."""
    if read is None:
        from kinetype.eval.readers import make_reader, reader_available

        why = reader_available("ppocr")
        if why:
            raise KinetypeError(f"{option}: reading the word needs PP-OCR ({why}): pass --word")
        read = lambda frame: make_reader("ppocr").read(frame).text  # noqa: E731
    text = read(design)
    word = "".join(ch for ch in text if ch in LETTERS)
    try:
        validate_word(word)
    except KinetypeError:
        raise KinetypeError(f"{option}: no word of 1-12 letters could be read from it (read {text!r}): "
                            "pass --word") from None
    return word


def animate(
    image: Path,
    *,
    motion: str | None,
    word: str | None = None,
    to: Path | None = None,
    loop: bool = False,
    out: Path | None = None,
    template_id: str | None = None,
    model: Path | None = None,
    sampler: str = SamplingSettings.sampler,
    steps: int = SamplingSettings.steps,
    guidance: float = SamplingSettings.guidance,
    seed: int = 0,
    templates_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    read: Callable[[np.ndarray], str] | None = None,  # the word reader (default: PP-OCR)
) -> Path:
    """Animate the design ``image`` and write the clip to ``out`` (default: ``WORD-motion.mp4`` here)."""
    started = time.perf_counter()
    # Cheap checks first: the options, the files, the output; then the model's configs; then weights.
    if word is not None:
        validate_word(word)
    sampling = SamplingSettings(sampler, steps, guidance)
    random_seed(seed)
    if to is not None and loop:
        raise KinetypeError("give --to or --loop, not both: a loop ends on the first design")
    if not motion and not template_id:
        raise KinetypeError("give a motion phrase (--motion 'bounce in') or a template id (--template ID)")
    designs = [open_design(image, "IMAGE")] + ([open_design(to, "--to")] if to is not None else [])
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in VIDEO_SUFFIXES:
            raise KinetypeError(f"--out {out}: unknown output type {out.suffix or '(none)'!r}: use .mp4, .gif or .png")
        check_output_file(out, "--out")
    template, match = choose_template(motion, template_id, templates_dir)
    from kinetype.pipeline import load_pipeline, model_path, read_model_folder

    folder = read_model_folder(model_path(model))
    clip_settings = folder.clip()
    first = fit_design(designs[0], clip_settings.size, "IMAGE", echo)
    last = fit_design(designs[1], clip_settings.size, "--to", echo) if to is not None else None
    if word is None:
        word = read_word(first, "IMAGE", read)
        echo(f"word read from {image}: {word}")
    named = out is not None
    if not named:  # a named --out was checked with the other options
        out = default_out(word, motion, template_id)
        check_output_file(out, "--out")
    pipe = load_pipeline(folder)
    echo(match)

    frames, fps = clip_settings.frames, clip_settings.fps
    reference = render_clip(template, word, seed, size=clip_settings.size, num_frames=frames, fps=fps, pixels=False,
                            loop=loop)
    caps = reference.captions
    echo(f"static: {caps.static}")
    echo(f"dynamic: {caps.dynamic}")
    echo(f"word: {caps.word}")
    clip = pipe([caps.static], [caps.dynamic], [caps.word], reference.text_mask[None].astype("float32"),
                num_frames=frames, sampler=sampling.sampler, steps=sampling.steps, guidance=sampling.guidance,
                seed=seed, first=first[None], last=None if last is None else last[None], loop=loop)[0]
    out = write_clip(out, clip, fps, named=named, next_free=lambda: default_out(word, motion, template_id), echo=echo)
    echo(f"wrote {out} ({frames} frames, {fps} fps, {clip_settings.size} px) in {time.perf_counter() - started:.1f} s")
    return out
