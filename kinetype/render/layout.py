"""Shaping and layout: HarfBuzz positions, skia glyph outlines, automatic fit to the frame.

skia's own text drawing ignores kerning, so positions come from HarfBuzz (kerning on, ligatures
off: one glyph per letter, which per-letter animation and per-letter masks need). Outlines come
from skia so every letter is a path the canvas can transform, stroke, trim and clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import skia
import uharfbuzz as hb

from kinetype.errors import FontError
from kinetype.render.fonts import FontInfo, FontLibrary
from kinetype.render.words import LETTERS

# Ligatures off so that one glyph is one letter; kerning and contextual alternates stay on.
HB_FEATURES = {"liga": False, "clig": False, "dlig": False, "hlig": False, "rlig": False, "kern": True}
REF_SIZE = 100.0  # outlines are extracted at this size, then scaled by the fit
# Thinnest stem drawn, in pixels. Light and script faces at small sizes (long words) would have
# 1-pixel strokes that anti-aliasing greys out and H.264 and an 8x-downsampling autoencoder erase;
# their outlines are emboldened up to this. Fonts whose stems are already thicker are untouched.
MIN_STEM_PX = 2.5
STEM_LETTERS = "nouvxzlIH"  # letters whose strokes are mostly stems and bowls
# Extra weight is rounded to 1/400 em (0.15 px at a 60-px em) so emboldened glyphs can be cached:
# the path union behind each one costs about 0.5 ms, more than drawing the letter all clip long.
EMBOLDEN_STEPS_PER_EM = 400


def transformed(path: skia.Path, m: skia.Matrix) -> skia.Path:
    """A transformed copy of ``path`` (skia-python transforms in place)."""
    out = skia.Path(path)
    out.transform(m)
    return out


@dataclass(frozen=True)
class Layout:
    """A word fitted to a square frame. Pixel units; N letters.

    ``paths[i]`` is letter i's outline with its pivot at the origin; ``pivots`` ``(N, 2)`` are the
    rest positions of those pivots in the frame. ``em_px`` is the fitted font size.
    """

    word: str
    font_id: str
    paths: tuple[skia.Path, ...]
    pivots: np.ndarray  # (N, 2) pixels
    em_px: float
    size: int
    ink: tuple[float, float, float, float]  # tight box of the whole word at rest, x0 y0 x1 y1

    @cached_property
    def pivot_list(self) -> list[list[float]]:
        return self.pivots.tolist()

    @property
    def offsets(self) -> np.ndarray:
        """(N, 2) pivot offsets from the word centre, in frame units (1.0 = frame width)."""
        return (self.pivots - self.pivots.mean(axis=0, keepdims=True)) / self.size


@lru_cache(maxsize=256)
def _glyph_table(lib: FontLibrary, font: FontInfo) -> tuple[dict[str, int], dict[str, float], float]:
    """(letter → glyph id, letter → advance in REF_SIZE px, upem) for the 52 letters."""
    hbf = lib.hb_font(font)
    upem = hbf.face.upem
    gids, adv = {}, {}
    for ch in LETTERS:
        buf = hb.Buffer()
        buf.add_str(ch)
        buf.guess_segment_properties()
        hb.shape(hbf, buf, HB_FEATURES)
        gids[ch] = buf.glyph_infos[0].codepoint
        adv[ch] = buf.glyph_positions[0].x_advance * REF_SIZE / upem
    return gids, adv, float(upem)


@lru_cache(maxsize=4096)
def glyph_path(lib: FontLibrary, font: FontInfo, letter: str) -> skia.Path:
    """Outline of one letter at REF_SIZE, centred horizontally on its advance, baseline at y=0."""
    gids, adv, _ = _glyph_table(lib, font)
    skf = skia.Font(lib.typeface(font), REF_SIZE)
    path = skf.getPath(gids[letter])
    if path is None:  # a blank glyph (should not happen for the 52 letters, checked at load)
        path = skia.Path()
    path.offset(-adv[letter] / 2.0, 0.0)
    return path


@lru_cache(maxsize=256)
def stem_em(lib: FontLibrary, font: FontInfo) -> float:
    """A font's typical stroke width as a fraction of the em: the median over STEM_LETTERS of
    2·area / perimeter (exact for a long stroke of constant width; area by 2x-supersampled raster)."""
    scale = 2
    n = int(1.6 * REF_SIZE * scale)
    widths = []
    for ch in STEM_LETTERS:
        path = glyph_path(lib, font, ch)
        surf = skia.Surface(n, n)
        canvas = surf.getCanvas()
        canvas.clear(skia.ColorWHITE)
        canvas.translate(n / 2, 0.75 * n)
        canvas.scale(scale, scale)
        canvas.drawPath(path, skia.Paint(AntiAlias=True, Color=skia.ColorBLACK))
        area = float((255 - surf.makeImageSnapshot().toarray()[..., 0].astype(np.float64)).sum()) / 255 / scale**2
        measure = skia.PathMeasure(path, False, 1.0)
        perimeter = measure.getLength()
        while measure.nextContour():
            perimeter += measure.getLength()
        if perimeter > 0:
            widths.append(2 * area / perimeter)
    return float(np.median(widths)) / REF_SIZE if widths else 0.0


def embolden(path: skia.Path, width_px: float) -> skia.Path:
    """``path`` grown by ``width_px / 2`` on every side (round joins), as one simple outline."""
    if width_px <= 0:
        return path
    paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStrokeAndFill_Style, StrokeWidth=float(width_px),
                       StrokeJoin=skia.Paint.kRound_Join)
    grown = skia.Path()
    paint.getFillPath(path, grown)
    # One simple outline, so strokes (outline effect, write-on) do not trace the overlaps inside.
    # Path ops give up on a few degenerate outlines: those keep the overlapping contours (fills
    # look the same either way).
    for simplify in (lambda: skia.Op(grown, path, skia.PathOp.kUnion_PathOp), lambda: skia.Simplify(grown)):
        try:
            return simplify() or grown
        except RuntimeError:
            pass
    return grown


@lru_cache(maxsize=8192)
def _bold_glyph(lib: FontLibrary, font: FontInfo, gid: int, steps: int) -> skia.Path:
    """Glyph ``gid`` at REF_SIZE, grown by ``steps`` / EMBOLDEN_STEPS_PER_EM em. Callers copy it."""
    path = skia.Font(lib.typeface(font), REF_SIZE).getPath(gid) or skia.Path()
    return embolden(path, steps * REF_SIZE / EMBOLDEN_STEPS_PER_EM)


def _weight_steps(lib: FontLibrary, font: FontInfo, em_px: float) -> int:
    return int(round(extra_weight_px(lib, font, em_px) / em_px * EMBOLDEN_STEPS_PER_EM))


def extra_weight_px(lib: FontLibrary, font: FontInfo, em_px: float) -> float:
    """How much to embolden ``font`` drawn at ``em_px`` so its stems reach MIN_STEM_PX (0 when they do)."""
    return max(0.0, MIN_STEM_PX - stem_em(lib, font) * em_px)


def shape(lib: FontLibrary, font: FontInfo, word: str) -> tuple[list[int], np.ndarray]:
    """HarfBuzz glyph ids and pen x positions (REF_SIZE px) of the letters of ``word``."""
    hbf = lib.hb_font(font)
    buf = hb.Buffer()
    buf.add_str(word)
    buf.guess_segment_properties()
    hb.shape(hbf, buf, HB_FEATURES)
    infos, positions = buf.glyph_infos, buf.glyph_positions
    scale = REF_SIZE / hbf.face.upem
    if len(infos) != len(word) or [i.cluster for i in infos] != list(range(len(word))):
        raise FontError(f"font {font.path}: shaping {word!r} did not give one glyph per letter")
    pen, xs = 0.0, []
    for pos in positions:
        xs.append(pen + pos.x_offset * scale)
        pen += pos.x_advance * scale
    return [i.codepoint for i in infos], np.asarray(xs + [pen])


def layout_word(lib: FontLibrary, font: FontInfo, word: str, size: int, margin: float = 0.14,
                max_height: float = 0.42) -> Layout:
    """Shape ``word`` in ``font`` and fit it inside the frame with safe margins.

    The whole ink box fits in ``(1 - 2·margin)`` of the frame width and ``max_height`` of its height
    (room for letters that move, scale or bounce), then is centred.
    """
    gids, xs = shape(lib, font, word)
    skf = skia.Font(lib.typeface(font), REF_SIZE)
    _, adv, _ = _glyph_table(lib, font)
    raw_paths, union = [], skia.Rect.MakeEmpty()
    for gid, x in zip(gids, xs[:-1]):
        p = skf.getPath(gid) or skia.Path()
        p.offset(float(x), 0.0)
        raw_paths.append(p)
        b = p.computeTightBounds()
        if not b.isEmpty():
            union.join(b)
    if union.isEmpty():
        raise FontError(f"font {font.path}: word {word!r} has no visible outline")
    avail_w = (1 - 2 * margin) * size
    avail_h = max_height * size
    k = min(avail_w / union.width(), avail_h / union.height())
    # Ink box centred in the frame: translate (dx, dy) after scaling by k.
    dx = size / 2 - k * union.centerX()
    dy = size / 2 - k * union.centerY()
    # Pivot of each letter: the middle of its advance, at half the cap height above the baseline.
    cap = 0.35 * REF_SIZE
    steps = _weight_steps(lib, font, k * REF_SIZE)
    paths, pivots = [], []
    for ch, gid, p, x in zip(word, gids, raw_paths, xs[:-1]):
        px, py = x + adv[ch] / 2.0, -cap
        m = skia.Matrix()
        m.setScale(k, k)
        m.preTranslate(-px + x if steps else -px, -py)
        paths.append(transformed(_bold_glyph(lib, font, gid, steps), m) if steps else transformed(p, m))
        pivots.append((k * px + dx, k * py + dy))
    ink = (k * union.left() + dx, k * union.top() + dy, k * union.right() + dx, k * union.bottom() + dy)
    return Layout(word=word, font_id=font.id, paths=tuple(paths), pivots=np.asarray(pivots, dtype=float),
                  em_px=k * REF_SIZE, size=size, ink=ink)


def substitute_path(lib: FontLibrary, font: FontInfo, letter: str, em_px: float) -> skia.Path:
    """Another glyph (scramble, font switch) scaled to ``em_px`` with its pivot at the origin."""
    steps = _weight_steps(lib, font, em_px)
    gids, adv, _ = _glyph_table(lib, font)
    k = em_px / REF_SIZE
    m = skia.Matrix()
    m.setScale(k, k)
    if steps:  # the cached bold glyph sits at the pen origin: centre it on its advance as glyph_path does
        m.preTranslate(-adv[letter] / 2.0, 0.35 * REF_SIZE)
        return transformed(_bold_glyph(lib, font, gids[letter], steps), m)
    m.preTranslate(0.0, 0.35 * REF_SIZE)
    return transformed(glyph_path(lib, font, letter), m)
