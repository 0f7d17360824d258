"""FLOPs of a training step, counted on the meta device: the parts add up, and what the issue-15
step saves is visible in the count."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.train.config import resolve  # noqa: E402
from kinetype.train.flops import step_flops  # noqa: E402


def test_step_flops_are_counted_for_every_stage_even_of_a_model_too_big_to_build():
    for stage in ("autoencoder", "image", "video"):
        parts = step_flops(resolve("cpu", overrides={"stage": stage}))
        assert parts and all(v > 0 for v in parts.values()), (stage, parts)
    # `base` at 256 px x 24 frames: hundreds of GFLOP per clip, counted in shapes alone (meta device).
    video = step_flops(resolve("base", overrides={"stage": "video"}))
    assert sum(video.values()) > 100e9


def test_what_the_new_step_saves_shows_in_the_count():
    cfg = resolve("cpu", overrides={"stage": "image"})  # batch 16, the latent cache on
    new, old = step_flops(cfg), step_flops(cfg, old=True)
    assert "encoder" not in new and "encoder" in old  # cached latents: no encoder in the step
    assert new["network"] == old["network"]
    # The glyph loss decodes glyph_clips clips instead of all 16 (and its target once more, no backward).
    assert new["glyph decode"] == pytest.approx(old["glyph decode"] * cfg.loss.glyph_clips / cfg.data.batch_size)
    assert sum(new.values()) < sum(old.values())
    # Video: the network's FLOPs per clip grow with the frames.
    short = step_flops(resolve("cpu", overrides={"stage": "video", "data": {"num_frames": 6}}))
    long = step_flops(resolve("cpu", overrides={"stage": "video", "data": {"num_frames": 12}}))
    assert 1.7 < long["network"] / short["network"] < 2.2  # (the captions cost the same at any length)
