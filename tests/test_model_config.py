"""The model's settings have one set of ranges, which every preset meets and a typo does not."""

from __future__ import annotations

import dataclasses

import pytest

from kinetype.model.config import MAX_LAYERS, MAX_POSITIONS, AutoencoderConfig, model_problem
from kinetype.model.presets import MODEL_PRESETS, model_preset


@pytest.mark.parametrize("name", MODEL_PRESETS)
def test_every_preset_is_within_the_ranges(name):
    assert model_problem(model_preset(name)) is None


def _with(part: str, **changes):
    m = model_preset("tiny")
    return dataclasses.replace(m, **{part: dataclasses.replace(getattr(m, part), **changes)})


@pytest.mark.parametrize("part,changes,field", [
    ("denoiser", {"layers_per_level": 10**6}, "denoiser.layers_per_level"),
    ("denoiser", {"layers_per_level": 0}, "denoiser.layers_per_level"),
    ("denoiser", {"head_dim": 0}, "denoiser.head_dim"),
    ("denoiser", {"ff_mult": 0}, "denoiser.ff_mult"),
    ("denoiser", {"max_frames": 10**12}, "denoiser.max_frames"),
    ("denoiser", {"norm_groups": 5}, "denoiser.norm_groups"),  # 32 and 64 channels: not a divisor
    ("denoiser", {"channels": ()}, "denoiser.channels"),
    ("denoiser", {"attention_levels": (True, True, True)}, "denoiser.attention_levels"),
    ("text", {"width": 65}, "text.width"),  # two heads
    ("text", {"depth": 10**6}, "text.depth"),
    ("text", {"max_tokens": 0}, "text.max_tokens"),
    ("autoencoder", {"latent_channels": 10**9}, "autoencoder.latent_channels"),
    ("autoencoder", {"norm_num_groups": 0}, "autoencoder.norm_num_groups"),
    ("autoencoder", {"scaling_factor": float("nan")}, "autoencoder.scaling_factor"),
    ("autoencoder", {"scaling_factor": 0.0}, "autoencoder.scaling_factor"),
])
def test_a_setting_outside_its_range_is_named_with_its_rule(part, changes, field):
    problem = model_problem(_with(part, **changes))
    assert problem is not None and problem.field == field
    value = next(iter(changes.values()))
    assert str(problem).startswith(f"{field} must be ")
    assert f"(got {list(value) if isinstance(value, tuple) else value!r})" in str(problem)


def test_the_ceilings_leave_room_above_the_largest_preset():
    presets = [model_preset(n) for n in MODEL_PRESETS]
    assert max(p.denoiser.layers_per_level for p in presets) * 4 <= MAX_LAYERS
    assert max(p.denoiser.max_frames for p in presets) * 4 <= MAX_POSITIONS
    # A glyph autoencoder without normalisation stores a group count it never uses: any positive one.
    glyph = AutoencoderConfig(kind="glyph", block_out_channels=(16, 24), norm_num_groups=8, glyph_norm=False)
    assert model_problem(dataclasses.replace(model_preset("tiny"), autoencoder=glyph)) is None
