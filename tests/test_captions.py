"""Captions are true to the plan and varied in phrasing."""

from kinetype.render import render_clip
from kinetype.render.plan import plan_clip
from kinetype.render.palettes import contrast


def test_static_caption_names_the_colours_used(templates, fonts):
    for i, t in enumerate(templates[::50]):
        clip = render_clip(t, "Colour", i, size=64, num_frames=6, fonts=fonts)
        pal = clip.metadata["plan"]["style"]["palette"]
        assert pal["text"] in clip.captions.static.lower()
        assert pal["background"] in clip.captions.static.lower()


def test_dynamic_caption_names_the_motions(templates, fonts):
    t = next(t for t in templates if t.id == "typewriter-in-ltr")
    clip = render_clip(t, "Typing", 0, size=64, num_frames=6, fonts=fonts)
    assert "typed" in clip.captions.dynamic and "left to right" in clip.captions.dynamic
    assert clip.captions.motion_tag == "typewriter"


def test_palettes_are_legible():
    from kinetype.render.palettes import palettes

    assert all(contrast(p.text, p.background) >= 4.5 for p in palettes("any"))


def test_phrasing_varies(templates, fonts):
    t = templates[10]
    statics, dynamics = set(), set()
    for seed in range(40):
        clip = render_clip(t, "Vary", seed, size=32, num_frames=4, fonts=fonts)
        statics.add(clip.captions.static.split(" ")[0])
        dynamics.add(clip.captions.dynamic.split(" ")[0])
    assert len(statics) >= 4 and len(dynamics) >= 2


def test_plan_is_deterministic(templates, fonts):
    a = plan_clip(templates[5], "Same", 1, 64, 8, 8, fonts)
    b = plan_clip(templates[5], "Same", 1, 64, 8, 8, fonts)
    assert a == b
