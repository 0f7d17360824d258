"""Characters a font draws alike, decided from its outlines, not from a fixed list.

In many sans faces capital I and lower-case l are the same bar, and in some the digit 0 is the
letter O: no reader, person or OCR, can tell them apart in a random string. Accuracy "with
look-alikes merged" counts such a pair as one character *in the clip's font only*.

Two characters are alike when their rasterised outlines (same size, centred on their advances,
on one baseline) overlap with IoU >= ``ALIKE_IOU`` *and* what differs between them is thinner
than a fraction of the font's stem: IoU alone merges O with Q (a small tail) and n with u (a
symmetric shape), which anyone tells apart, since the difference is a whole stroke; the I of a
face whose l is a bar a few pixels taller differs by a sliver. The comparison is made on the case
the font draws; the classes are then case-folded (if the font draws I like l, then i, I, l and L are one
class in a case-insensitive comparison).
"""

from __future__ import annotations

import string
from functools import lru_cache

import numpy as np
import skia

from kinetype.eval.measures import erode
from kinetype.render.fonts import FontLibrary
from kinetype.render.layout import stem_em

ALIKE_IOU = 0.9
# A difference thicker than this many stems is a stroke. Measured on the bundled fonts (erosions
# to empty the difference / stem): I-l 0.08-0.30, O-Q 0.32-0.6.
SLIVER_STEMS = 0.3
CHARS = string.ascii_letters + string.digits  # digits too: readers answer "0" for an O drawn round
RASTER_PX = 64  # em size of the comparison


@lru_cache(maxsize=64)
def glyph_masks(font_id: str) -> dict[str, np.ndarray]:
    """Boolean (2·px, 2·px) rasters of the font's glyphs for ``CHARS`` (characters without a
    glyph are left out), each centred on its advance, baseline at 3/4 height."""
    lib = FontLibrary.load()
    font = skia.Font(lib.typeface(lib.get(font_id)), RASTER_PX)
    n = 2 * RASTER_PX
    out = {}
    for ch in CHARS:
        gid = font.unicharToGlyph(ord(ch))
        path = font.getPath(gid) if gid else None
        if path is None:
            continue
        advance = font.getWidths([gid])[0]
        surf = skia.Surface(n, n)
        canvas = surf.getCanvas()
        canvas.clear(skia.ColorBLACK)
        canvas.translate(n / 2 - advance / 2, 0.75 * n)
        canvas.drawPath(path, skia.Paint(AntiAlias=True, Color=skia.ColorWHITE))
        out[ch] = surf.makeImageSnapshot().toarray()[..., 0] > 127
    return out


def thickness_px(mask: np.ndarray) -> int:
    """How many 3×3 erosions empty ``mask``: about half its thickest part, in pixels."""
    steps = 0
    while mask.any():
        mask = erode(mask, 1)
        steps += 1
    return steps


@lru_cache(maxsize=64)
def stem_px(font_id: str) -> float:
    """The font's stem width in pixels at ``RASTER_PX``."""
    lib = FontLibrary.load()
    return stem_em(lib, lib.get(font_id)) * RASTER_PX


@lru_cache(maxsize=64)
def alike_pairs(font_id: str, threshold: float = ALIKE_IOU) -> tuple[tuple[str, str], ...]:
    """Pairs of distinct characters of ``CHARS`` the font draws alike (IoU >= threshold), in order."""
    masks = glyph_masks(font_id)
    chars = [c for c in CHARS if c in masks]
    area = {c: np.count_nonzero(masks[c]) for c in chars}
    pairs = []
    for i, a in enumerate(chars):
        for b in chars[i + 1:]:
            lo, hi = sorted((area[a], area[b]))
            if hi == 0 or lo / hi < threshold:  # IoU <= smaller / larger area: skip the raster work
                continue
            inter = np.count_nonzero(masks[a] & masks[b])
            if inter / (area[a] + area[b] - inter) >= threshold \
                    and thickness_px(masks[a] ^ masks[b]) <= SLIVER_STEMS * stem_px(font_id):
                pairs.append((a, b))
    return tuple(pairs)


@lru_cache(maxsize=64)
def lookalike_map(font_id: str) -> dict[str, str]:
    """Lower-cased character -> its class representative (the smallest member), for the
    characters that have a look-alike in this font; see :func:`kinetype.eval.measures.merge_lookalikes`."""
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    for a, b in alike_pairs(font_id):
        ra, rb = find(a.lower()), find(b.lower())
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {c: find(c) for c in parent} | {find(c): find(c) for c in parent}
