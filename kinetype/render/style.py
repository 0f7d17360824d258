"""Letter appearance: fills (solid, gradient, stripes, texture) and effects, as skia shaders/paints.

A :class:`StylePlan` holds the concrete choices for one clip; :mod:`canvas` draws with it and
:mod:`captions` describes it, so the static caption always names what is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import skia

from kinetype.render.palettes import COLOURS, Palette, contrast, contrast_rgb, first_shade, shade

FILLS = ("solid", "gradient", "stripes", "texture")
EFFECTS = ("none", "shadow", "glow", "outline", "hollow", "extrude", "chroma", "long-shadow")


@dataclass(frozen=True)
class StylePlan:
    font_id: str
    alt_font_ids: tuple[str, ...]  # fonts used by font-switch motions, in cycle order
    palette: Palette
    fill: str
    effect: str
    motion_blur: bool


def colour(rgb, alpha: float = 1.0) -> int:
    return skia.Color(int(rgb[0]), int(rgb[1]), int(rgb[2]), int(round(255 * max(0.0, min(1.0, alpha)))))


def second_tone(p: Palette) -> tuple[int, int, int]:
    """The other colour of gradient/striped fills: the accent when it reads well on the background,
    else a shade of the text colour (keeps the contrast guarantee)."""
    if contrast(p.accent, p.background) >= 4.5:
        return COLOURS[p.accent]
    bg_dark = sum(COLOURS[p.background]) / 3 < 128
    return shade(COLOURS[p.text], 0.35 if bg_dark else -0.35)


# Effects drawn right against a letter's edge are what the eye reads the letter against, so they keep
# a contrast floor with the text colour (as text/background keep 4.5:1): a glow halo or a long
# shadow the colour of the letters merges with them into blobs.
GLOW_MIN_CONTRAST = 3.0
SHADOW_MIN_CONTRAST = 3.0
LONG_SHADOW_DARKEN = 0.45  # long shadows are the background darkened by this much, or less (above)


def text_is_light(p: Palette) -> bool:
    """Whether the text is the lighter of text and background."""
    return contrast_rgb(COLOURS[p.text], (0, 0, 0)) > contrast_rgb(COLOURS[p.background], (0, 0, 0))


@lru_cache(maxsize=None)
def glow_colour(p: Palette) -> tuple[tuple[int, int, int], str]:
    """The glow's colour and its caption name: the accent, moved away from the text's lightness
    (darker around light text, paler around dark text) in 10% steps until the halo keeps
    GLOW_MIN_CONTRAST with the letters."""
    acc = COLOURS[p.accent]
    text = COLOURS[p.text]
    if contrast_rgb(acc, text) >= GLOW_MIN_CONTRAST:
        return acc, p.accent
    sign = -1.0 if text_is_light(p) else 1.0
    rgb = first_shade(acc, [sign * k / 10 for k in range(1, 11)], text, GLOW_MIN_CONTRAST) or shade(acc, sign)
    return rgb, f"{'deep' if sign < 0 else 'pale'} {p.accent}"


@lru_cache(maxsize=None)
def long_shadow_colour(p: Palette) -> tuple[int, int, int]:
    """The background darkened by up to LONG_SHADOW_DARKEN, as far as the shadow keeps
    SHADOW_MIN_CONTRAST with the text (dark text on a light background gets a lighter shadow).
    Always exists: the undarkened background has at least 4.5:1 with the text."""
    bg, text = COLOURS[p.background], COLOURS[p.text]
    steps = range(int(round(LONG_SHADOW_DARKEN * 20)), -1, -1)
    return first_shade(bg, [-k / 20 for k in steps], text, SHADOW_MIN_CONTRAST) or bg


def fill_shader(plan: StylePlan, em_px: float, noise_seed: int) -> skia.Shader | None:
    """Shader for the letter fill in each letter's own coordinates (pivot at the origin); None for solid.

    The shader is set on the paint and so follows each letter's matrix: a gradient travels with
    its letter, as a fill does in After Effects.
    """
    p = plan.palette
    a, b = COLOURS[p.text], second_tone(p)
    if plan.fill == "solid":
        return None
    if plan.fill == "gradient":
        return skia.GradientShader.MakeLinear(
            [skia.Point(0, -0.5 * em_px), skia.Point(0, 0.35 * em_px)], [colour(b), colour(a)])
    if plan.fill == "stripes":
        w = max(2.0, 0.09 * em_px)
        return skia.GradientShader.MakeLinear(
            [skia.Point(0, 0), skia.Point(w, w)], [colour(a), colour(a), colour(b), colour(b)],
            [0.0, 0.55, 0.55, 1.0], skia.TileMode.kRepeat)
    if plan.fill == "texture":
        f = 4.0 / max(em_px, 1.0)
        noise = skia.PerlinNoiseShader.MakeTurbulence(f, f, 2, float(noise_seed % 997))
        # Texture = the text colour, darkened/lightened by turbulence luminance (keeps the hue).
        grey = skia.ColorFilters.Matrix([0.33, 0.33, 0.33, 0, 0] * 3 + [0, 0, 0, 0, 1])
        return skia.Shaders.Blend(skia.BlendMode.kOverlay, skia.Shaders.Color(colour(a)),
                                  noise.makeWithColorFilter(grey).makeWithLocalMatrix(skia.Matrix()))
    raise ValueError(f"unknown fill {plan.fill!r}")


def fill_phrase(plan: StylePlan) -> str:
    p = plan.palette
    tone = p.accent if contrast(p.accent, p.background) >= 4.5 else f"{'lighter' if sum(COLOURS[p.background]) / 3 < 128 else 'darker'} {p.text}"
    return {
        "solid": f"solid {p.text}",
        "gradient": f"{p.text} fading into {tone}",
        "stripes": f"{p.text} and {tone} striped",
        "texture": f"grainy textured {p.text}",
    }[plan.fill]


def effect_phrase(plan: StylePlan) -> str:
    p = plan.palette
    return {
        "none": "",
        "shadow": "with a soft drop shadow",
        "glow": f"with a {glow_colour(p)[1]} neon glow",
        "outline": f"outlined in {p.accent}",
        "hollow": "drawn hollow, as outlines only",
        "extrude": "with a 3D extruded depth",
        "chroma": "with a red and cyan chromatic aberration split",
        "long-shadow": "with a long diagonal shadow",
    }[plan.effect]
