"""The bundled font library: a validated manifest of OFL/Apache fonts, with cached skia and HarfBuzz handles.

``kinetype/assets/fonts/fonts.toml`` lists one ``[[font]]`` per file. ``FontLibrary.load()`` checks every field, that
every font has the 52 letters A–Z a–z, and finds *caps-only* fonts (lowercase drawn as capitals,
e.g. Bebas Neue), which can only render all-capital words truthfully.

``FontInfo`` is a plain picklable record (it is sent to worker processes); the skia typeface and
HarfBuzz font live in per-process caches keyed by path, reached through ``FontLibrary.typeface`` and
``FontLibrary.hb_font``.
"""

from __future__ import annotations

import functools
import os
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import skia
import uharfbuzz as hb

from kinetype.errors import FontError
from kinetype.render.tomlfile import TomlError, read_toml

CLASSES = ("serif", "sans", "slab", "rounded", "condensed", "display", "script", "handwritten", "mono")
LICENCES = ("OFL-1.1", "Apache-2.0")
LETTERS = string.ascii_uppercase + string.ascii_lowercase
MANIFEST = "fonts.toml"
ENV_VAR = "KINETYPE_FONTS"

# field → (type, description) for one [[font]] table; every field is required, no others allowed.
FIELDS: dict[str, tuple[type, str]] = {
    "family": (str, "a non-empty string"), "style": (str, "a non-empty string"),
    "weight": (int, "an integer 100–900"), "italic": (bool, "true or false"),
    "classes": (list, f"a non-empty list of {', '.join(CLASSES)}"), "file": (str, "a path relative to the manifest"),
    "licence": (str, " or ".join(LICENCES)), "licence_file": (str, "a path relative to the manifest"),
    "package": (str, "a non-empty string"),
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class FontInfo:
    """One font file and what the manifest says about it."""

    family: str
    style: str  # "Regular", "Bold Italic", ...
    weight: int  # 100–900, CSS scale
    italic: bool
    classes: tuple[str, ...]  # subset of CLASSES
    path: Path  # absolute
    licence: str  # "OFL-1.1" or "Apache-2.0"
    licence_file: Path  # absolute
    package: str  # Debian package the file came from
    caps_only: bool  # lowercase letters are drawn as capitals

    @property
    def id(self) -> str:
        """Stable slug, e.g. ``lato-bold-italic``; the same on every machine."""
        return slug(f"{self.family} {self.style}")


# --- per-process handles (never stored on FontInfo, which must stay picklable) ---------------------

@functools.lru_cache(maxsize=1)
def _font_manager() -> skia.FontMgr:
    # An empty FreeType manager: fonts come from our files only. skia's default manager would start
    # the system's Fontconfig, which scans /etc/fonts for nothing and warns on configs it is too
    # old to read (a "Fontconfig warning" on every run).
    return skia.FontMgr.New_Custom_Empty()


@functools.lru_cache(maxsize=None)
def _typeface(path: str) -> skia.Typeface:
    tf = _font_manager().makeFromFile(path, 0)
    if tf is None:
        raise FontError(f"{path}: skia cannot read this font file")
    return tf


@functools.lru_cache(maxsize=None)
def _hb_font(path: str) -> hb.Font:
    return hb.Font(hb.Face(hb.Blob.from_file_path(path)))


# --- caps-only detection ----------------------------------------------------------------------------

CELL_PX = 32  # side of the raster each glyph is fitted into for the shape comparison
SAME_SHAPE_IOU = 0.8  # soft IoU above which a lowercase letter "is" its capital
CAPS_FRACTION = 0.75  # ... and the share of the 26 letters that must be so


def _caps_only(tf: skia.Typeface, gids: list[int], font_path: str) -> bool:
    """True if the lowercase letters are capitals: same outline (scaled or not) or same proportions.

    Two tests, either suffices:
    1. shape: each glyph is scaled uniformly into a CELL_PX square (centred on its ink box) and
       rasterised; most lowercase letters overlap their capital (soft IoU > SAME_SHAPE_IOU). Catches
       fonts whose lowercase slots hold the capitals or small capitals (Bebas Neue).
    2. proportions: no x-height and no descenders, i.e. a c e m n o r s u v w x z stand as tall as
       b d h k l and g p y do not drop below the baseline. Catches hand-drawn fonts whose lowercase
       slots hold *other drawings* of capitals (Humor Sans), where outlines differ.
    """
    font = skia.Font(tf, 100)
    n = len(LETTERS)
    surface = skia.Surface.MakeRaster(skia.ImageInfo.MakeA8(CELL_PX * n, CELL_PX))
    canvas = surface.getCanvas()
    paint = skia.Paint(AntiAlias=True)
    top, bottom = {}, {}
    for i, (ch, gid) in enumerate(zip(LETTERS, gids)):
        path = font.getPath(gid)
        b = path.computeTightBounds()
        top[ch], bottom[ch] = b.top(), b.bottom()  # skia y grows downwards
        s = (CELL_PX - 2) / max(b.width(), b.height(), 1e-6)
        canvas.save()
        canvas.translate(i * CELL_PX + CELL_PX / 2, CELL_PX / 2)
        canvas.scale(s, s)
        canvas.translate(-b.centerX(), -b.centerY())
        canvas.drawPath(path, paint)
        canvas.restore()
    cells = surface.makeImageSnapshot().toarray().reshape(CELL_PX, n, CELL_PX).transpose(1, 0, 2) / 255.0
    upper, lower = cells[:26], cells[26:]  # (26, CELL_PX, CELL_PX) coverage, A..Z and a..z
    iou = np.minimum(upper, lower).sum((1, 2)) / np.maximum(np.maximum(upper, lower).sum((1, 2)), 1e-9)
    if np.mean(iou > SAME_SHAPE_IOU) >= CAPS_FRACTION:
        return True

    # Heights are measured from the capitals' baseline (some fonts sit their glyphs off y=0).
    base = np.median([bottom[c] for c in "EFHIKLNTXZ"])
    cap_h = base - np.median([top[c] for c in "EFHIKLNTXZ"])
    if cap_h <= 0:
        raise FontError(f"{font_path}: capital letters have no height")
    x_ratio = np.median([base - top[c] for c in "acemnorsuvwxz"]) / np.median([base - top[c] for c in "bdhkl"])
    descent = (np.median([bottom[c] for c in "gpy"]) - base) / cap_h
    # Ordinary fonts: x_ratio 0.45–0.8, descent 0.2–0.65; caps-only fonts: ~1.0 and < 0.15.
    return bool(x_ratio > 0.85 and descent < 0.15)


def inspect_font(path: Path) -> bool:
    """Check the 52 letters of the font at ``path``; return whether it is caps-only. Raises FontError."""
    tf = _typeface(str(path))
    gids = tf.unicharsToGlyphs([ord(c) for c in LETTERS])
    font = skia.Font(tf, 100)
    missing = [c for c, g in zip(LETTERS, gids) if g == 0 or font.getPath(g) is None]
    if missing:
        raise FontError(f"{path}: missing letters {''.join(missing)} (every font needs A–Z and a–z)")
    return _caps_only(tf, gids, str(path))


# --- manifest ----------------------------------------------------------------------------------------

def _check_entry(manifest: Path, i: int, raw: Any) -> dict[str, Any]:
    """Validated fields of the i-th [[font]] table; paths resolved against the manifest's folder."""
    where = f"{manifest}: font[{i}]"
    if not isinstance(raw, dict):
        raise FontError(f"{where}: must be a table")
    for key in raw:
        if key not in FIELDS:
            raise FontError(f"{where}.{key}: unknown field (expected {', '.join(FIELDS)})")
    out: dict[str, Any] = {}
    for key, (kind, what) in FIELDS.items():
        if key not in raw:
            raise FontError(f"{where}.{key}: missing field ({what})")
        v = raw[key]
        ok = isinstance(v, kind) and not (kind is int and isinstance(v, bool))
        if kind is str:
            ok = ok and bool(v.strip())
        elif key == "weight":
            ok = ok and 100 <= v <= 900
        elif key == "classes":
            ok = ok and bool(v) and all(isinstance(c, str) and c in CLASSES for c in v)
        if key == "licence":
            ok = ok and v in LICENCES
        if not ok:
            raise FontError(f"{where}.{key}: must be {what}, got {v!r}")
        if key in ("file", "licence_file"):
            p = (manifest.parent / v).resolve()
            if not p.is_file():
                raise FontError(f"{where}.{key}: no such file {v!r}")
            v = p
        out[key] = tuple(v) if key == "classes" else v
    return out


@functools.lru_cache(maxsize=8)
def _load(folder: Path) -> FontLibrary:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FontError(f"{manifest}: no font manifest (set {ENV_VAR} to a folder that has one)")
    try:
        raw = read_toml(manifest)
    except TomlError as e:
        raise FontError(str(e)) from None
    extra = set(raw) - {"font"}
    if extra:
        raise FontError(f"{manifest}: {sorted(extra)[0]}: unknown top-level key (expected [[font]] tables)")
    entries = raw.get("font")
    if not isinstance(entries, list) or not entries:
        raise FontError(f"{manifest}: font: the manifest needs at least one [[font]] table")
    fonts: dict[str, FontInfo] = {}
    for i, entry in enumerate(entries):
        f = _check_entry(manifest, i, entry)
        info = FontInfo(family=f["family"], style=f["style"], weight=f["weight"], italic=f["italic"],
                        classes=f["classes"], path=f["file"], licence=f["licence"],
                        licence_file=f["licence_file"], package=f["package"], caps_only=inspect_font(f["file"]))
        if info.id in fonts:
            raise FontError(f"{manifest}: font[{i}].style: duplicate font id {info.id!r}")
        fonts[info.id] = info
    return FontLibrary(folder, tuple(fonts[k] for k in sorted(fonts)))


def default_folder() -> Path:
    """``$KINETYPE_FONTS`` if set, else the fonts bundled inside the package (``kinetype/assets/fonts``)."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "assets" / "fonts"


class FontLibrary:
    """The fonts of one folder. Hashable by identity (it keys lru caches) and picklable."""

    def __init__(self, folder: Path, fonts: tuple[FontInfo, ...]):
        self.folder = folder
        self.fonts = fonts  # sorted by id
        self._by_id = {f.id: f for f in fonts}

    @classmethod
    def load(cls, folder: Path | str | None = None) -> FontLibrary:
        """Read and check ``folder/fonts.toml`` (default: ``default_folder()``); cached per folder."""
        return _load(Path(folder or default_folder()).resolve())

    def __repr__(self) -> str:
        return f"FontLibrary({str(self.folder)!r}, {len(self.fonts)} fonts)"

    def __len__(self) -> int:
        return len(self.fonts)

    def get(self, font_id: str) -> FontInfo:
        try:
            return self._by_id[font_id]
        except KeyError:
            raise FontError(f"unknown font {font_id!r} (see `kinetype fonts list`)") from None

    def families(self) -> tuple[str, ...]:
        return tuple(sorted({f.family for f in self.fonts}))

    def with_classes(self, classes: Iterable[str]) -> tuple[FontInfo, ...]:
        """Fonts that belong to at least one of ``classes``."""
        wanted = set(classes)
        unknown = wanted - set(CLASSES)
        if unknown:
            raise FontError(f"unknown font class {sorted(unknown)[0]!r} (expected one of {', '.join(CLASSES)})")
        return tuple(f for f in self.fonts if wanted & set(f.classes))

    def typeface(self, font: FontInfo) -> skia.Typeface:
        return _typeface(str(font.path))

    def hb_font(self, font: FontInfo) -> hb.Font:
        return _hb_font(str(font.path))


def font_table(lib: FontLibrary) -> list[dict[str, Any]]:
    """One row per family for ``kinetype fonts list``: family, styles, classes, licence, caps_only."""
    rows: dict[str, dict[str, Any]] = {}
    for f in sorted(lib.fonts, key=lambda f: (f.family, f.italic, f.weight)):
        row = rows.setdefault(f.family, {"family": f.family, "styles": [], "classes": ", ".join(f.classes),
                                         "licence": f.licence, "caps_only": f.caps_only})
        row["styles"].append(f.style)
    for row in rows.values():
        row["styles"] = ", ".join(row["styles"])
    return [rows[k] for k in sorted(rows)]
