"""render_clip contract, run over every bundled template, plus determinism and font/caption truth."""

import json

import numpy as np
import pytest

from kinetype.errors import WordError
from kinetype.render import render_clip
from kinetype.render.engine import layout_loops, stiller_end
from kinetype.render.words import word_caption

WORDS = ["Hello", "KINETIC", "ty", "Typography", "aBcDeFgHiJkL", "W", "quiz"]


def check_clip(clip, word, size, frames):
    n = len(word)
    assert clip.frames.shape == (frames, size, size, 3) and clip.frames.dtype == np.uint8
    assert clip.instance_map.shape == (frames, size, size) and clip.instance_map.dtype == np.uint8
    assert clip.boxes.shape == (frames, n, 4)
    assert clip.at_rest.shape == (frames,)
    assert clip.instance_map.max() <= n
    assert np.array_equal(clip.text_mask, clip.instance_map > 0)
    # Masks and boxes agree: a letter's pixels lie inside its box; a hidden letter has no pixels.
    for f in range(frames):
        for k in range(n):
            ys, xs = np.nonzero(clip.instance_map[f] == k + 1)
            box = clip.boxes[f, k]
            if np.isnan(box).any():
                assert len(xs) == 0, f"frame {f} letter {k}: pixels but no box"
            elif len(xs):
                assert xs.min() >= box[0] - 1.5 and xs.max() <= box[2] + 1.5
                assert ys.min() >= box[1] - 1.5 and ys.max() <= box[3] + 1.5
    # At rest, every letter is visible.
    for f in np.flatnonzero(clip.at_rest):
        missing = set(range(1, n + 1)) - set(np.unique(clip.instance_map[f]))
        assert not missing, f"frame {f} at rest but letters {sorted(missing)} have no mask pixels"
    c = clip.captions
    assert c.static.strip() and c.dynamic.strip() and c.motion_tag.strip()
    assert c.word == word_caption(word)
    json.dumps(clip.metadata)  # JSON-able


def test_every_template_renders_to_contract(templates, fonts):
    size, frames = 64, 8
    for i, t in enumerate(templates):
        word = WORDS[i % len(WORDS)]
        clip = render_clip(t, word, seed=i, size=size, num_frames=frames, fps=8, fonts=fonts)
        try:
            check_clip(clip, word, size, frames)
        except AssertionError as e:
            raise AssertionError(f"template {t.id}: {e}") from e
        assert clip.metadata["template"] == t.id and clip.metadata["seed"] == i


def test_full_size_defaults(templates, fonts):
    clip = render_clip(templates[0], "Hello", 3, fonts=fonts)
    check_clip(clip, "Hello", 256, 24)
    assert clip.fps == 8 and clip.metadata["size"] == 256


def test_same_seed_same_bytes_different_seed_differs(templates, fonts):
    t = next(t for t in templates if t.id.startswith("glitch"))
    a = render_clip(t, "Glitch", 7, size=96, num_frames=12, fonts=fonts)
    b = render_clip(t, "Glitch", 7, size=96, num_frames=12, fonts=fonts)
    c = render_clip(t, "Glitch", 8, size=96, num_frames=12, fonts=fonts)
    assert a.frames.tobytes() == b.frames.tobytes()
    assert a.instance_map.tobytes() == b.instance_map.tobytes()
    assert a.captions == b.captions and a.metadata == b.metadata
    assert a.frames.tobytes() != c.frames.tobytes()


def test_caps_only_fonts_never_draw_lowercase_words(templates, fonts):
    caps = {f.id for f in fonts.fonts if f.caps_only}
    assert caps, "the library should include a caps-only font (Bebas Neue)"
    display = [t for t in templates if "display" in t.style.fonts.all_values() or "condensed" in t.style.fonts.all_values()]
    used_caps_for_upper = False
    for i in range(300):
        t = display[i % len(display)]
        from kinetype.render.plan import plan_clip
        lower = plan_clip(t, "hello", i, 64, 8, 8, fonts)
        assert lower.style.font_id not in caps
        used_caps_for_upper |= plan_clip(t, "HELLO", i, 64, 8, 8, fonts).style.font_id in caps
    assert used_caps_for_upper  # all-capital words may still use it


def test_line_backgrounds_never_sit_behind_hairlines_striped_fills_or_extrusions(templates, fonts):
    from kinetype.render.engine import plan_clip
    from kinetype.render.scene import DEPTH_EFFECTS, HAIRLINE_WEIGHT, LINE_BACKGROUNDS

    weight = {f.id: f.weight for f in fonts.fonts}
    lines_used = clashes_avoided = 0
    for i, t in enumerate(templates):
        if not set(LINE_BACKGROUNDS) & set(t.style.background.all_values()):
            continue
        for seed in range(3):
            p = plan_clip(t, "Hello", seed + 10 * i, 64, 8, 8, fonts)
            busy = weight[p.style.font_id] <= HAIRLINE_WEIGHT or p.style.fill == "stripes" or p.style.effect in DEPTH_EFFECTS
            if p.background.kind in LINE_BACKGROUNDS:
                assert not busy, f"{t.id} seed {seed}: {p.background.kind} behind {p.style.font_id}, {p.style.fill}, {p.style.effect}"
                lines_used += 1
            clashes_avoided += busy
    assert lines_used > 100 and clashes_avoided > 20  # line backgrounds stay, with the other looks


def test_most_clips_come_to_rest_and_rest_frames_are_still(templates, fonts):
    enter_only = [t for t in templates if t.enter and not t.exit and not t.emphasis
                  and "shake" not in t.style.camera.all_values()][:20]  # a shaking camera is never still
    for i, t in enumerate(enter_only):
        clip = render_clip(t, "Rest", i, size=64, num_frames=24, fonts=fonts)
        assert clip.at_rest[-1], t.id


def test_bad_word_is_refused(templates):
    with pytest.raises(WordError, match="position 3"):
        render_clip(templates[0], "ab3", 0)


def test_held_frames_reuse_masks_exactly(templates, fonts, monkeypatch):
    """Held frames copy the previous mask; drawing every mask afresh must give the same result."""
    from kinetype.render import engine

    from pathlib import Path

    from kinetype.render.schema import parse_template

    # Letters waiting to decode sit still but show a new random glyph every frame.
    scrambled_hold = parse_template({"id": "decode-still", "description": "d", "motion_tag": "decode",
                                     "enter": {"motion": "decode", "duration": 0.8, "easing": "linear", "overlap": 0.0,
                                               "params": {"fade": 0.0}}}, Path("<test>"), "t")
    for t in [next(t for t in templates if t.id == tid) for tid in ("fly-left-in-ltr", "glitch-hold-ltr", "wave-ltr")] + [scrambled_hold]:
        tid = t.id
        fast = render_clip(t, "Still", 4, size=64, num_frames=16, fonts=fonts)
        with monkeypatch.context() as m:
            m.setattr(engine, "still_frames", lambda tracks, camera: np.zeros(tracks.moving.shape[0], bool))
            slow = render_clip(t, "Still", 4, size=64, num_frames=16, fonts=fonts)
        assert np.array_equal(fast.instance_map, slow.instance_map), tid
        assert np.array_equal(fast.boxes, slow.boxes, equal_nan=True), tid


@pytest.mark.parametrize("background", ["solid", "gradient-drift"])
@pytest.mark.parametrize("blur", [False, True])
def test_held_letters_drawn_once_look_the_same(fonts, monkeypatch, background, blur):
    """Held letters are drawn once per hold (frame copied over a still background, a cached text
    layer over a moving one); drawing every frame afresh must give the same picture — exactly,
    or within 8-bit compositing rounding for the layer."""
    from pathlib import Path

    from kinetype.render import engine
    from kinetype.render.schema import parse_template

    t = parse_template({"id": "hold", "description": "d", "motion_tag": "fly in",
                        "enter": {"motion": "fly", "duration": 0.4, "easing": "out-cubic", "params": {"fade": 1.0}},
                        "style": {"background": background, "background_speed": 1.0, "effect": "glow",
                                  "motion_blur": blur}}, Path("<test>"), "t")
    fast = render_clip(t, "Held", 3, size=64, num_frames=16, fonts=fonts)
    with monkeypatch.context() as m:
        real = engine.still_frames
        m.setattr(engine, "still_frames", lambda tracks, camera: np.zeros_like(real(tracks, camera)))
        slow = render_clip(t, "Held", 3, size=64, num_frames=16, fonts=fonts)
    assert fast.at_rest.sum() >= 4  # the clip does hold
    diff = np.abs(fast.frames.astype(int) - slow.frames.astype(int))
    if background == "solid" or blur:  # copies, or a blurred frame drawn once for a still shutter
        assert diff.max() == 0
    else:  # the layer path ran, and rounds differently only
        assert 0 < diff.max() <= 4 and diff.mean() < 0.05


def test_font_switch_without_params_still_gets_its_default_fonts(fonts):
    from pathlib import Path

    from kinetype.render.plan import plan_clip
    from kinetype.render.motions import MOTIONS
    from kinetype.render.schema import parse_template

    t = parse_template({"id": "fs", "description": "d", "motion_tag": "font switch", "enter": {"motion": "font-switch"}},
                       Path("<test>"), "t")
    plan = plan_clip(t, "Fonts", 0, 64, 8, 8, fonts)
    assert len(plan.style.alt_font_ids) == MOTIONS["font-switch"].params["fonts"].default


def test_thin_fonts_are_emboldened_to_the_minimum_stem_only_when_small(fonts):
    import skia

    from kinetype.render.layout import MIN_STEM_PX, extra_weight_px, glyph_path, layout_word, stem_em, transformed

    thin, bold = fonts.get("cantarell-thin"), fonts.get("lato-black")
    assert stem_em(fonts, thin) < 0.5 * stem_em(fonts, bold)  # the estimate tells thin from black faces
    long_thin = layout_word(fonts, thin, "Kinetictypes", 256)
    assert stem_em(fonts, thin) * long_thin.em_px < MIN_STEM_PX  # 1-pixel stems without the rule
    extra = extra_weight_px(fonts, thin, long_thin.em_px)
    assert extra > 0 and extra_weight_px(fonts, bold, long_thin.em_px) == 0.0
    assert extra_weight_px(fonts, thin, 400.0) == 0.0  # thin stays thin where it is thick enough
    # The drawn outlines (colour and mask passes share them) carry the extra weight.
    m = skia.Matrix.Scale(long_thin.em_px / 100, long_thin.em_px / 100)
    plain = transformed(glyph_path(fonts, thin, "K"), m).computeTightBounds()
    drawn = long_thin.paths[0].computeTightBounds()
    assert abs(drawn.width() - (plain.width() + extra)) < 0.05 * plain.width() + 0.5


def test_no_pixels_gives_the_full_renders_masks_boxes_and_captions(templates, fonts):
    """pixels=False (generate's and eval's reference renders) paints no frame but draws the same bytes."""
    blur = [t for t in templates if True in t.style.motion_blur.all_values()][:2]
    camera = [t for t in templates if "shake" in t.style.camera.all_values()][:2]
    picks = templates[::150] + blur + camera + [t for t in templates if t.id.startswith(("font-switch", "decode"))][:2]
    for i, t in enumerate(picks):
        full = render_clip(t, "Masks", i, size=64, num_frames=12, fonts=fonts)
        bare = render_clip(t, "Masks", i, size=64, num_frames=12, fonts=fonts, pixels=False)
        assert bare.frames is None and full.frames is not None
        assert np.array_equal(bare.instance_map, full.instance_map), t.id
        assert np.array_equal(bare.boxes, full.boxes, equal_nan=True), t.id
        assert np.array_equal(bare.at_rest, full.at_rest) and bare.captions == full.captions, t.id
        assert bare.metadata == full.metadata and bare.num_frames == 12 and bare.size == 64


def test_a_looped_render_returns_to_its_first_frame(templates, fonts):
    """render_clip(loop=True) (generate --loop's glyph layout): an entrance that stays plays as a
    boomerang closing at its stiller end — it opens on the word at rest, goes back to the entrance's
    start midway and returns, frame i being frame T - i — and a template whose letters already end
    where they start is drawn exactly as without loop."""
    still = [t for t in templates if t.style.camera.all_values() == ("none",) and not t.emphasis]
    entrance = next(t for t in still if t.enter and not t.exit and "fly" in t.enter.motion)
    there_and_back = next(t for t in still if t.enter and t.exit)
    t_frames = 12
    plain = render_clip(entrance, "Loop", 3, size=64, num_frames=t_frames, fonts=fonts)
    looped = render_clip(entrance, "Loop", 3, size=64, num_frames=t_frames, fonts=fonts, loop=True)
    assert not layout_loops(plain.instance_map) and stiller_end(plain.instance_map) == "end"
    for i in range(1, t_frames):  # i = 1: the jump from the last frame back to the first is the first step
        assert np.array_equal(looped.instance_map[i], looped.instance_map[t_frames - i]), i
    assert np.array_equal(looped.instance_map[0], plain.instance_map[-1])  # opens at rest, as the entrance ends
    assert np.array_equal(looped.instance_map[t_frames // 2], plain.instance_map[0])  # the entrance's start midway
    assert looped.at_rest[0] and looped.at_rest[-1] and looped.captions == plain.captions
    assert np.array_equal(looped.frames, render_clip(entrance, "Loop", 3, size=64, num_frames=t_frames, fonts=fonts,
                                                     loop=True).frames)  # deterministic
    check_clip(looped, "Loop", 64, t_frames)

    again = render_clip(there_and_back, "Loop", 3, size=64, num_frames=t_frames, fonts=fonts)
    assert layout_loops(again.instance_map)
    same = render_clip(there_and_back, "Loop", 3, size=64, num_frames=t_frames, fonts=fonts, loop=True)
    assert np.array_equal(same.frames, again.frames) and np.array_equal(same.instance_map, again.instance_map)
