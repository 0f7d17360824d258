"""Legibility rules of effects drawn against the letters: glow and long-shadow colours."""

import numpy as np

from kinetype.render.palettes import COLOURS, Palette, contrast_rgb, palettes, shade
from kinetype.render.style import (
    GLOW_MIN_CONTRAST,
    LONG_SHADOW_DARKEN,
    SHADOW_MIN_CONTRAST,
    StylePlan,
    effect_phrase,
    glow_colour,
    long_shadow_colour,
    text_is_light,
)


def test_glow_keeps_contrast_with_the_text_in_every_palette():
    for p in palettes("any"):
        rgb, name = glow_colour(p)
        assert contrast_rgb(rgb, COLOURS[p.text]) >= GLOW_MIN_CONTRAST, p
        if contrast_rgb(COLOURS[p.accent], COLOURS[p.text]) >= GLOW_MIN_CONTRAST:
            assert (rgb, name) == (COLOURS[p.accent], p.accent)  # a good accent is used as it is


def test_glow_moves_away_from_the_text_lightness_and_says_so():
    p = Palette("neon", "yellow", "black", "lime")  # lime glow around yellow letters: 1.2:1
    assert contrast_rgb(COLOURS["lime"], COLOURS["yellow"]) < GLOW_MIN_CONTRAST
    rgb, name = glow_colour(p)
    assert text_is_light(p) and sum(rgb) < sum(COLOURS["lime"]) and name == "deep lime"
    plan = StylePlan("lato-regular", (), p, "solid", "glow", False)
    assert "deep lime neon glow" in effect_phrase(plan)
    dark = Palette("neon", "deep purple", "yellow", "magenta")  # dark text: the glow turns paler
    rgb, name = glow_colour(dark)
    assert not text_is_light(dark) and sum(rgb) >= sum(COLOURS["magenta"]) and name.split()[0] in ("pale", "magenta")


def test_long_shadow_keeps_contrast_with_the_text_and_is_as_dark_as_allowed():
    seen_lighter = False
    for p in palettes("any"):
        rgb = long_shadow_colour(p)
        assert contrast_rgb(rgb, COLOURS[p.text]) >= SHADOW_MIN_CONTRAST, p
        if contrast_rgb(shade(COLOURS[p.background], -LONG_SHADOW_DARKEN), COLOURS[p.text]) >= SHADOW_MIN_CONTRAST:
            assert rgb == shade(COLOURS[p.background], -LONG_SHADOW_DARKEN)  # the usual look where it reads
        else:
            seen_lighter = True
            assert np.sum(rgb) > np.sum(shade(COLOURS[p.background], -LONG_SHADOW_DARKEN))
    assert seen_lighter  # the rule matters for some palettes (dark text on mid backgrounds)
