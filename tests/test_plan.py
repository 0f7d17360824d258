"""render/plan.py: the typed plan serialises to the metadata datasets already hold; one phase planner."""

import hashlib
import json

import pytest

from kinetype.render.plan import plan_clip, plan_phases
from kinetype.render.schema import Spec

# SHA-256 (first 16 hex digits) of json.dumps(dataclasses.asdict(plan)) with the plan's old fields
# (ClipPlan.font_id after fps), recorded before the plan carried its font in the style only. The
# five marked * were recorded again when the looks changed (Kristi left the font library; line
# backgrounds are left out behind busy letters), after checking that only those choices differed.
OLD_PLAN_JSON = {
    ("blur-in-blur-out", "Hello", 0): "9db317cf5a1559a0",
    ("jitter-random", "kINETic", 300): "3e1d78a533c0d389",  # *
    ("wave-ltr", "Wave", 777): "e5a1f72e52b6c017",
    ("swing-back-in-random", "qz", 1500): "aba1287e7795a7d3",  # *
    ("orbit-out-random", "Fonts", 1999): "a0cb5e1c8ec09fd3",  # *
    ("font-switch-in-font-switch-out", "Fonts", 3): "bb88e4dcfb2f314f",  # * alternative fonts
    ("font-cycle-ltr", "Fonts", 3): "64c9fa737f2d793e",  # *
    ("tumble-in-stretch-h-out", "Fonts", 3): "bfba3922880e73b1",
}


@pytest.mark.parametrize("template_id, word, seed", list(OLD_PLAN_JSON))
def test_plan_json_equals_the_old_metadata(templates, fonts, template_id, word, seed):
    t = next(t for t in templates if t.id == template_id)
    plan = plan_clip(t, word, seed, 64, 8, 8, fonts)
    js = plan.to_json()
    assert list(js)[:7] == ["template_id", "word", "seed", "size", "num_frames", "fps", "font_id"]
    assert js["font_id"] == plan.style.font_id
    digest = hashlib.sha256(json.dumps(js, separators=(",", ":")).encode()).hexdigest()[:16]
    assert digest == OLD_PLAN_JSON[(template_id, word, seed)]


def test_a_fixed_template_renders_its_canonical_phases(fonts):
    """Without ranges or choices, the engine's sampled phases are the ones the signature test compares."""
    from pathlib import Path

    from kinetype.render.schema import parse_template

    t = parse_template({"id": "fixed", "description": "d", "motion_tag": "m",
                        "enter": {"motion": "fly", "duration": 0.3, "params": {"angle": 90.0}},
                        "emphasis": {"motion": "wave", "duration": 0.6, "order": "random"},
                        "exit": {"motion": "fade", "duration": 0.2, "easing": "in-sine"}}, Path("<test>"), "t")
    assert plan_clip(t, "Same", 1, 64, 8, 8, fonts).phases == plan_phases(t, Spec.canonical)


def test_phases_hold_every_motion_parameter(templates):
    from kinetype.render.motions import MOTIONS

    for t in templates[::50]:
        for p in plan_phases(t, Spec.canonical):
            assert set(p.params) == set(MOTIONS[p.motion].params)
