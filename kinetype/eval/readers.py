"""OCR readers behind one small interface: ``reader.read(frame) -> Reading``.

* ``ppocr`` (the default) — PP-OCRv6 small detection + recognition through ``rapidocr``, on
  onnxruntime; the ONNX models ship in the wheel, nothing is downloaded at run time. A neural
  reader as the image-text literature uses (AnyText, TextDiffuser report PP-OCR figures).
* ``tesseract`` — Tesseract 5 ``--psm 7`` (one text line), told the alphabet, dictionaries off,
  on the preprocessing the legibility benchmark settled on (see ``benchmarks/legibility.py``):
  five binarisations cropped to the ink and scaled to 40 px, the surest reading wins. Kept beside
  PP-OCR for continuity with the figures measured before.

Readers are slow to build (PP-OCR loads two networks): build one per process and reuse it. Each
uses one thread, since the evaluation already runs one process per core.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from kinetype.errors import KinetypeError
from kinetype.render.words import LETTERS

READERS = ("ppocr", "tesseract")


@dataclass(frozen=True)
class Reading:
    """What a reader saw in one frame."""

    text: str  # the characters read, whitespace removed
    confidence: float  # 0..1; 0 when nothing was read
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 2), np.float32))  # (k, 4, 2) detected quads, px


class Reader(Protocol):
    name: str
    version: str

    def read(self, frame: np.ndarray) -> Reading:
        """Read one (H, W, 3) uint8 RGB frame."""


# --- PP-OCR -----------------------------------------------------------------------------------


class LettersOnly:
    """PP-OCR's CTC decoder told the alphabet, as Tesseract is (``tessedit_char_whitelist``).

    The recogniser scores ~18,000 characters per time step; the engine draws only the 52 Latin
    letters, so a digit or a symbol is never the right answer (``l`` read as ``1``, ``O`` as ``0``).
    Scene-text benchmarks score a restricted character set the same way. The probabilities of every
    other character are zeroed before the greedy CTC argmax; the blank and the space stay, so
    segmentation is unchanged.
    """

    def __init__(self, decode):
        self._decode = decode
        keep = {"blank", " ", *LETTERS}
        self._mask = np.array([ch in keep for ch in decode.character], np.float32)  # (C,)

    def __call__(self, preds: np.ndarray, *args, **kwargs):
        return self._decode(preds * self._mask, *args, **kwargs)  # preds: (B, T, C) softmax outputs


class PPOCRReader:
    """PP-OCRv6 small through rapidocr (detection, then recognition of each box; no angle classifier:
    the words the engine leaves at rest are upright)."""

    name = "ppocr"

    def __init__(self):
        try:
            from rapidocr import RapidOCR
            from rapidocr._version import __version__
        except ImportError:
            raise KinetypeError("the PP-OCR reader needs rapidocr: pip install -e '.[eval]'") from None

        self._engine = RapidOCR(params={
            "Global.log_level": "error", "Global.use_cls": False,
            "EngineConfig.onnxruntime.intra_op_num_threads": 1, "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        recogniser = self._engine._load_rec_model()  # built now, not at the first frame, to wrap its decoder
        recogniser.postprocess_op = LettersOnly(recogniser.postprocess_op)
        self.version = f"rapidocr {__version__}, PP-OCRv6 small, letters only"

    def read(self, frame: np.ndarray) -> Reading:
        out = self._engine(np.ascontiguousarray(frame))
        if out.boxes is None or not out.txts:
            return Reading("", 0.0)
        boxes = np.asarray(out.boxes, np.float32).reshape(-1, 4, 2)
        order = np.argsort(boxes[:, :, 0].min(axis=1), kind="stable")  # left to right: a split word joins up
        text = "".join("".join(out.txts[i].split()) for i in order)
        return Reading(text, float(min(out.scores)), boxes)


# --- Tesseract --------------------------------------------------------------------------------

TEXT_HEIGHT_PX = 40  # the text line's height handed to Tesseract (benchmarks/legibility.py measured 32-64)
TESS_CONFIG = ["-c", "load_system_dawg=0", "-c", "load_freq_dawg=0",  # words are not all English
               "-c", "tessedit_char_whitelist=" + LETTERS]


def otsu(channel: np.ndarray) -> tuple[int, float]:
    """Otsu threshold of a uint8 image and the separation it achieves (between-class variance)."""
    hist = np.bincount(channel.ravel(), minlength=256).astype(float)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * np.arange(256))
    total, mt = w0[-1], m0[-1]
    w1 = total - w0
    between = (mt * w0 / total - m0) ** 2 / np.maximum(w0 * w1, 1)
    k = int(np.argmax(between))
    return k, float(between[k])


def minority(channel: np.ndarray) -> np.ndarray:
    """Otsu binarisation of a channel with the smaller class as ink (text covers less than half the frame)."""
    binary = channel > otsu(channel)[0]
    return ~binary if binary.mean() >= 0.5 else binary


def border_colour(rgb: np.ndarray) -> np.ndarray:
    """(3,) median colour of the frame's edge pixels: the background (words sit inside safe margins)."""
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    return np.median(edge, axis=0)


def candidate_channels(rgb: np.ndarray) -> list[np.ndarray]:
    """Grey, R, G, B and the colour distance from the border colour, each uint8: which separates
    the text best depends on the palette."""
    grey = np.asarray(ImageOps.grayscale(Image.fromarray(rgb)))
    dist = np.sqrt(((rgb.astype(np.float32) - border_colour(rgb)) ** 2).sum(-1))
    dist = np.rint(dist * 255 / max(float(dist.max()), 1.0)).astype(np.uint8)
    return [grey, rgb[..., 0], rgb[..., 1], rgb[..., 2], dist]


def drop_border_components(ink: np.ndarray) -> np.ndarray:
    """Ink connected to the frame's edge is background pattern (stripes, grid, shapes, grain), never
    a word fitted inside safe margins: flood it away, unless that removes most of the ink."""
    img = Image.fromarray(ink.astype(np.uint8) * 255)
    px, (w, h) = img.load(), img.size
    edge = [(x, 0) for x in range(w)] + [(x, h - 1) for x in range(w)] + [(0, y) for y in range(h)] + [(w - 1, y) for y in range(h)]
    for xy in edge:
        if px[xy] == 255:
            ImageDraw.floodfill(img, xy, 0)
    kept = np.asarray(img) > 0
    return kept if kept.sum() > 0.2 * ink.sum() else ink


def fit_for_tesseract(ink: np.ndarray, height_px: int = TEXT_HEIGHT_PX) -> np.ndarray:
    """Crop to the ink and scale it so the text line is ``height_px`` tall (anti-aliased grey, dark
    on white, as Tesseract expects a scanned page), with a white margin of half that."""
    ys, xs = np.nonzero(ink)
    if len(ys) == 0:
        return np.full((2 * height_px, 2 * height_px), 255, np.uint8)
    crop = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    k = height_px / crop.shape[0]
    img = Image.fromarray(np.where(crop, 0, 255).astype(np.uint8)).resize(
        (max(1, round(crop.shape[1] * k)), height_px), Image.LANCZOS)
    return np.pad(np.asarray(img), height_px // 2, constant_values=255)


def tesseract(image: np.ndarray, tsv: bool = True) -> tuple[str, float]:
    """Tesseract ``--psm 7`` on a binary image (True = ink) or a uint8 grey one (dark text on white):
    the letters read and the lowest word confidence (0..100, -1 when nothing was read)."""
    buf = io.BytesIO()
    Image.fromarray(image if image.dtype == np.uint8 else np.where(image, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "7", "-l", "eng", *TESS_CONFIG, *(["tsv"] if tsv else [])],
                         input=buf.getvalue(), capture_output=True, check=False,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"})  # the pool already uses every core
    if out.returncode != 0:  # no language data, a broken install: it read nothing, which is no score of 0
        said = [line.strip() for line in out.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        raise KinetypeError(f"reader tesseract cannot read (exit status {out.returncode}"
                            f"{': ' + said[0][:160] if said else ''}); check the install and TESSDATA_PREFIX")
    text = out.stdout.decode("utf-8", "replace")
    if not tsv:
        return "".join(ch for ch in text if ch.isalpha()), -1.0
    lines = text.splitlines()
    # Its TSV starts with a header naming the 12 columns; anything else (a wrapper, a build without
    # TSV output) would read as "nothing read", a score of 0 rather than an error.
    if not lines or lines[0].split("\t")[-2:] != ["conf", "text"]:
        first = f"its first line is {lines[0][:60]!r}" if lines else "it printed nothing"
        raise KinetypeError(f"reader tesseract cannot read: its output is not Tesseract's TSV ({first}); "
                            "check the install")
    words, confs = [], []
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) == 12 and cols[11].strip():
            try:
                confs.append(float(cols[10]))
            except ValueError:
                raise KinetypeError(f"reader tesseract cannot read: a confidence {cols[10][:20]!r} in its TSV "
                                    "is not a number; check the install") from None
            words.append(cols[11])
    return "".join(ch for ch in "".join(words) if ch.isalpha()), (min(confs) if confs else -1.0)


@lru_cache(maxsize=1)
def tesseract_version() -> str | None:
    """``tesseract 5.3.0`` or None where the binary is missing."""
    if shutil.which("tesseract") is None:
        return None
    out = subprocess.run(["tesseract", "--version"], capture_output=True, check=False)
    lines = (out.stdout or out.stderr).decode("utf-8", "replace").splitlines()
    return lines[0].strip() if lines else "tesseract"


class TesseractReader:
    """Tesseract on five candidate binarisations, each cropped to the ink and scaled; the reading
    whose least confident word is surest wins (Tesseract's confidence; the word is never consulted)."""

    name = "tesseract"

    def __init__(self):
        version = tesseract_version()
        if version is None:
            raise KinetypeError("the Tesseract reader needs the tesseract binary: apt-get install tesseract-ocr (make sysdeps)")
        self.version = f"{version}, --psm 7"

    def read(self, frame: np.ndarray) -> Reading:
        rgb = np.ascontiguousarray(frame)
        reads = [tesseract(fit_for_tesseract(drop_border_components(minority(ch)))) for ch in candidate_channels(rgb)]
        text, conf = max(reads, key=lambda r: r[1])
        return Reading(text, max(conf, 0.0) / 100)


# --- choosing ---------------------------------------------------------------------------------


def reader_names(choice: str) -> tuple[str, ...]:
    """``ppocr``, ``tesseract`` or ``both`` -> reader names, the first one the headline reader."""
    if choice == "both":
        return READERS
    if choice not in READERS:
        raise KinetypeError(f"--reader must be ppocr, tesseract or both, got {choice!r}")
    return (choice,)


def make_reader(name: str) -> Reader:
    """Build a reader by name (slow: once per process)."""
    if name == "ppocr":
        return PPOCRReader()
    if name == "tesseract":
        return TesseractReader()
    raise KinetypeError(f"unknown reader {name!r}: use one of {', '.join(READERS)}")


def reader_available(name: str) -> str | None:
    """None when the reader can be built here, else why not (one line)."""
    if name == "ppocr":
        try:
            import rapidocr  # noqa: F401
        except ImportError:
            return "rapidocr is not installed (pip install -e '.[eval]')"
        return None
    if name == "tesseract":
        if not tesseract_version():
            return "tesseract is not installed (make sysdeps)"
        try:  # installed is not working: a read of a blank image finds missing language data
            tesseract(np.full((16, 16), 255, np.uint8), tsv=False)
        except KinetypeError as e:
            return str(e).removeprefix("reader tesseract ")
        return None
    return f"unknown reader {name!r}"
