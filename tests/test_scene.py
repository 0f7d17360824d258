"""Backgrounds keep the text readable: their second tone never drops under the palette contrast."""

import numpy as np

from kinetype.render.palettes import COLOURS, MIN_CONTRAST, MOODS, contrast_rgb, palettes
from kinetype.render.scene import Background, BackgroundPlan, second_tone


def test_second_tone_keeps_text_contrast_and_stays_visible():
    pairs = {(p.text, p.background) for mood in MOODS for p in palettes(mood)}
    moved = 0
    for text, bg in pairs:
        alt = second_tone(COLOURS[bg], COLOURS[text])
        assert contrast_rgb(alt, COLOURS[text]) >= MIN_CONTRAST, (text, bg, alt)
        moved += alt != COLOURS[bg]
    assert moved >= 0.9 * len(pairs)  # patterns still show on nearly every palette


def test_every_pixel_of_a_pattern_background_keeps_text_contrast():
    text, bg = (250, 250, 250), (90, 90, 110)  # light text on a mid-dark background: 22% lighter would break 4.5:1
    assert contrast_rgb(second_tone(bg, None), text) < MIN_CONTRAST
    b = Background(BackgroundPlan("stripes", bg, 1.0, 45.0, 3), 64, text)
    frame = np.zeros((64, 64, 4), np.uint8)
    b.draw(None, frame, 0.3)
    tones = {tuple(int(v) for v in px) for px in frame[..., :3].reshape(-1, 3)}
    assert len(tones) > 1 and min(contrast_rgb(t, text) for t in tones) >= MIN_CONTRAST - 0.05
