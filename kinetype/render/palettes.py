"""Named colours and palettes, so captions can say "gold on deep red".

A palette is (text, background, accent) colour names from one mood. Text/background pairs are
kept only when their WCAG contrast ratio is at least 4.5 — the legibility floor for body text —
so no template can paint unreadable words by chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# name -> (r, g, b), 0..255
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (250, 250, 250), "ivory": (255, 250, 232), "cream": (246, 236, 208), "light grey": (210, 210, 214),
    "silver": (180, 184, 190), "charcoal": (46, 48, 54), "black": (12, 12, 14), "slate": (62, 74, 92),
    "gold": (240, 190, 40), "yellow": (255, 226, 58), "orange": (250, 140, 30), "coral": (255, 120, 100),
    "red": (220, 38, 38), "crimson": (170, 20, 50), "deep red": (110, 12, 22), "maroon": (80, 10, 30),
    "hot pink": (255, 60, 160), "pink": (250, 170, 200), "magenta": (210, 40, 200), "purple": (110, 40, 170),
    "deep purple": (50, 16, 80), "lavender": (196, 176, 240), "navy": (16, 28, 80), "midnight blue": (10, 16, 40),
    "royal blue": (40, 80, 220), "sky blue": (120, 190, 250), "cyan": (40, 230, 240), "teal": (0, 120, 120),
    "turquoise": (60, 210, 190), "mint": (170, 240, 200), "lime": (170, 240, 50), "green": (30, 160, 70),
    "forest green": (20, 70, 40), "olive": (110, 110, 40), "brown": (110, 66, 34), "chocolate": (60, 34, 20),
    "tan": (210, 180, 140), "peach": (255, 206, 170), "sand": (236, 214, 170), "neon green": (60, 255, 80),
}

MOODS: dict[str, tuple[str, ...]] = {
    "warm": ("gold", "yellow", "orange", "coral", "red", "crimson", "deep red", "maroon", "cream", "ivory", "chocolate", "peach"),
    "cool": ("sky blue", "cyan", "teal", "turquoise", "navy", "midnight blue", "royal blue", "white", "mint", "slate", "lavender"),
    "mono": ("white", "ivory", "light grey", "silver", "charcoal", "black", "slate"),
    "neon": ("hot pink", "cyan", "neon green", "yellow", "magenta", "black", "midnight blue", "deep purple", "lime"),
    "pastel": ("pink", "lavender", "mint", "peach", "sky blue", "cream", "charcoal", "slate", "purple", "teal"),
    "earth": ("tan", "sand", "olive", "brown", "chocolate", "forest green", "cream", "gold", "maroon"),
    "vivid": ("red", "royal blue", "yellow", "green", "white", "black", "orange", "purple", "hot pink", "navy"),
}


@dataclass(frozen=True)
class Palette:
    mood: str
    text: str
    background: str
    accent: str

    def rgb(self, role: str) -> tuple[int, int, int]:
        return COLOURS[getattr(self, role)]


MIN_CONTRAST = 4.5  # WCAG text/background floor for every palette (and background tone)

def _luminance(rgb: tuple[int, int, int]) -> float:
    c = np.asarray(rgb, dtype=float) / 255.0
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def contrast_rgb(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio between two RGB colours (1 … 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio between two named colours (1 … 21)."""
    return contrast_rgb(COLOURS[a], COLOURS[b])


@lru_cache(maxsize=None)
def palettes(mood: str) -> tuple[Palette, ...]:
    """Every legible (text, background, accent) combination of one mood, in a fixed order."""
    if mood == "any":
        return tuple(p for m in MOODS for p in palettes(m))
    names = MOODS[mood]
    out = []
    for text in names:
        for bg in names:
            if text == bg or contrast(text, bg) < MIN_CONTRAST:
                continue
            # The accent must stand out from the background too (it colours outlines, glows, flashes).
            accents = [c for c in names if c not in (text, bg) and contrast(c, bg) >= 2.0]
            for acc in accents:
                out.append(Palette(mood, text, bg, acc))
    return tuple(out)


def sample_palette(mood: str, rng: np.random.Generator) -> Palette:
    options = palettes(mood)
    return options[int(rng.integers(len(options)))]


def shade(rgb: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    """Lighten (amount > 0) or darken (amount < 0) towards white/black."""
    c = np.asarray(rgb, dtype=float)
    target = 255.0 if amount > 0 else 0.0
    c = c + (target - c) * abs(amount)
    return tuple(int(round(v)) for v in np.clip(c, 0, 255))


def first_shade(rgb: tuple[int, int, int], amounts, against: tuple[int, int, int],
                min_contrast: float) -> tuple[int, int, int] | None:
    """The first ``shade(rgb, a)`` over ``amounts`` (0 is ``rgb`` itself) with at least
    ``min_contrast`` against ``against``; None when none has. Effects and background tones use it
    to move as far from a colour as they like while the text stays readable."""
    for a in amounts:
        c = shade(rgb, a) if a else tuple(rgb)
        if contrast_rgb(c, against) >= min_contrast:
            return c
    return None


def mix(a: tuple[int, int, int], b: tuple[int, int, int], w: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * w)) for x, y in zip(a, b))
