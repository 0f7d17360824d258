"""Letter appearance: fills (solid, gradient, stripes, texture) and effects, as skia shaders/paints.

A :class:`StylePlan` holds the concrete choices for one clip; :mod:`canvas` draws with it and
:mod:`captions` describes it, so the static caption always names what is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import skia

from kinetype.render.palettes import COLOURS, Palette, contrast, shade

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
        "glow": f"with a {p.accent} neon glow",
        "outline": f"outlined in {p.accent}",
        "hollow": "drawn hollow, as outlines only",
        "extrude": "with a 3D extruded depth",
        "chroma": "with a red and cyan chromatic aberration split",
        "long-shadow": "with a long diagonal shadow",
    }[plan.effect]
