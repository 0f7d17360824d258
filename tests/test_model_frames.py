"""Given frames (kinetype.model.frames): the designs a clip passes through — frame 0 to animate a
still, frames 0 and T-1 for in-betweens and loops — reach the denoiser as extra input planes; a
trained model gains them without changing its output; training draws them from the clip itself; the
pipeline encodes designs into them and refuses what it cannot use in one line."""

from __future__ import annotations

import contextlib

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.errors import KinetypeError  # noqa: E402
from kinetype.model import KineTyNet  # noqa: E402
from kinetype.model.errors import ModelError, TrainingError  # noqa: E402
from kinetype.model.frames import Given, draw_given, given  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.pipeline import LOOP_OVERLAP, Pipeline  # noqa: E402
from kinetype.train import loop  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)


def test_first_gives_frame_zero_and_ends_the_first_and_last_a_loop_the_first_twice():
    a, b = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    first = given(a, "first", 5)
    assert first.flags.tolist() == [[1, 0, 0, 0, 0]] * 2
    assert torch.equal(first.latents[:, 0], a) and not first.latents[:, 1:].any()
    ends = given(a, "ends", 5, b)
    assert ends.flags.tolist() == [[1, 0, 0, 0, 1]] * 2
    assert torch.equal(ends.latents[:, 0], a) and torch.equal(ends.latents[:, -1], b)
    assert not ends.latents[:, 1:-1].any()
    loop_ = given(a, "ends", 5)
    assert torch.equal(loop_.latents[:, -1], a)
    assert not given(a, "none", 5).flags.any()
    with pytest.raises(ValueError, match="mode"):
        given(a, "middle", 5)


def test_training_draws_each_mode_in_its_share_from_the_clip_itself():
    x0 = torch.randn(4000, 4, 2, 2, 2)
    gen = torch.Generator().manual_seed(0)
    g = draw_given(x0, gen, first_prob=0.3, ends_prob=0.2)
    first_only = (g.flags[:, 0] == 1) & (g.flags[:, -1] == 0)
    ends = (g.flags[:, 0] == 1) & (g.flags[:, -1] == 1)
    assert abs(first_only.float().mean() - 0.3) < 0.03 and abs(ends.float().mean() - 0.2) < 0.03
    assert not ((g.flags[:, 0] == 0) & (g.flags[:, -1] == 1)).any()  # the last is given only with the first
    assert not g.flags[:, 1:-1].any()
    mask = g.flags[:, :, None, None, None].bool().expand_as(x0)
    assert torch.equal(g.latents[mask], x0[mask]) and not g.latents[~mask].any()
    again = draw_given(x0, torch.Generator().manual_seed(0), 0.3, 0.2)
    assert torch.equal(again.flags, g.flags)  # the step's generator: a resumed run draws the same


def _video_net(seed=0):
    torch.manual_seed(seed)
    net = KineTyNet(model_preset("tiny")).eval()
    with torch.no_grad():  # the video layers start at zero; give them weights so every input matters
        for name, p in net.named_parameters():
            if ".temporal.proj_out." in name or "word_out" in name:
                p.normal_(0, 0.02)
    return net


def _run(net, cond=None):
    torch.manual_seed(1)
    x, t = torch.randn(2, 4, 4, 8, 8), torch.tensor([0.3, 0.7])
    caps = [net.tokenize(["red on blue", "gold on black"]), net.tokenize(["bounce in", "slide"]),
            net.tokenize(["H^|i", "o|k"])]
    with torch.no_grad():
        return net(x, t, *caps, glyph=torch.rand(2, 4, 8, 8), given=cond)


def test_a_trained_model_gains_given_frames_unchanged_and_then_reads_them():
    net = _video_net()
    before = _run(net)
    net.add_given_frames()
    assert net.cfg.denoiser.given_frames
    design = given(torch.randn(2, 4, 8, 8), "ends", 4, torch.randn(2, 4, 8, 8))
    assert torch.equal(_run(net), before) and torch.equal(_run(net, design), before)  # zero weights: no change
    with torch.no_grad():  # stand-in for training: the new input weights move
        net.denoiser.x_embedder.weight[:, -5:].normal_(0, 0.1)
    assert torch.equal(_run(net), before)  # no design given: still the same model
    assert not torch.allclose(_run(net, design), before)


def test_a_video_stage_adds_given_frames_to_an_init_model_and_trains_them_even_when_only_video_layers_train(tmp_path):
    init = tiny_pipeline_folder(tmp_path / "init", num_frames=4)
    cfg = resolve("tiny", overrides={
        "stage": "video", "out": str(tmp_path / "run"), "init": str(init), "video_trains": "video",
        "model": {"denoiser": {"given_frames": True}}, "loss": {"given_first_prob": 0.5, "given_ends_prob": 0.5},
        "data": {"shards": "synthetic", "num_frames": 4, "batch_size": 2}, "optim": {"max_steps": 2},
        "sample_every": 0})
    loop.train(cfg, echo=lambda s: None)
    folder = tmp_path / "run" / "pipeline"
    assert json.loads((folder / "denoiser" / "config.json").read_text())["given_frames"] is True
    weight = Pipeline.from_pretrained(folder).net.denoiser.x_embedder.weight
    start = Pipeline.from_pretrained(init).net.denoiser.x_embedder.weight
    assert weight[:, -5:].abs().sum() > 0  # the given-frame planes learned
    assert not torch.equal(weight[:, : start.shape[1]], start)


def test_given_shares_over_one_are_refused_naming_the_field():
    with pytest.raises(TrainingError, match="loss.given_ends_prob"):
        resolve("tiny", overrides={"loss": {"given_first_prob": 0.7, "given_ends_prob": 0.5}})


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    plain = Pipeline.from_pretrained(tiny_pipeline_folder(root / "plain", num_frames=4))
    net = plain.net
    net.add_given_frames()
    with torch.no_grad():
        net.denoiser.x_embedder.weight[:, -5:].normal_(0, 0.1)
    pipe = Pipeline(net, plain.autoencoder, objective="flow", stage="video", size_px=32, num_frames=4, fps=8)
    return Pipeline.from_pretrained(tiny_pipeline_folder(root / "other", num_frames=4)), pipe


def _sample(pipe, **kw):
    return pipe(["red on blue"], ["bounce in"], ["H^|i"], np.zeros((1, 4, 32, 32), np.float32), steps=3, seed=5, **kw)


def test_designs_change_the_clip_deterministically_and_loop_differs_from_first_alone(pipes):
    _, pipe = pipes
    rng = np.random.default_rng(0)
    design, other = (rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8) for _ in range(2))
    plain, first = _sample(pipe), _sample(pipe, first=design)
    assert not np.array_equal(plain, first)
    assert np.array_equal(first, _sample(pipe, first=design))  # same seed, same clip
    loop_, between = _sample(pipe, first=design, loop=True), _sample(pipe, first=design, last=other)
    assert not np.array_equal(loop_, first) and not np.array_equal(loop_, between)


@pytest.mark.parametrize("kw, message", [
    (dict(last=np.zeros((1, 32, 32, 3), np.uint8)), "last needs first"),
    (dict(first=np.zeros((1, 32, 32, 3), np.uint8), last=np.zeros((1, 32, 32, 3), np.uint8), loop=True), "not both"),
    (dict(first=np.zeros((1, 16, 16, 3), np.uint8)), r"first must be uint8 RGB of shape .* \(1, 32, 32, 3\)"),
    (dict(first=np.zeros((1, 32, 32, 3), np.float32)), "first must be uint8"),
])
def test_designs_the_pipeline_cannot_use_are_refused_in_one_line(pipes, kw, message):
    _, pipe = pipes
    with pytest.raises(KinetypeError, match=message):
        _sample(pipe, **kw)


def test_a_model_without_given_frames_takes_designs_and_loops_pinned_only(pipes):
    plain, _ = pipes
    for kw in (dict(first=np.zeros((1, 32, 32, 3), np.uint8)), dict(loop=True)):
        assert _sample(plain, **kw).shape == (1, 4, 32, 32, 3)  # kinetype.sample.replacement
        with pytest.raises(ModelError, match="not trained with given frames") as e:
            _sample(plain, **kw, pin=False)
        assert "\n" not in str(e.value)


@contextlib.contextmanager
def denoiser_calls(pipe):
    """The frame count of every call to ``pipe``'s denoiser inside the block."""
    calls, real = [], pipe.net.denoise

    def spy(x, *a, **k):
        calls.append(x.shape[1])
        return real(x, *a, **k)

    pipe.net.denoise = spy
    try:
        yield calls
    finally:
        del pipe.net.denoise


def test_a_loop_samples_past_its_last_frame_and_refuses_the_longest_clips(pipes):
    _, pipe = pipes
    with denoiser_calls(pipe) as shapes:
        assert _sample(pipe, loop=True).shape[1] == 4
    assert set(shapes) == {4 + LOOP_OVERLAP}  # frames 0..3, then the first ones again
    with denoiser_calls(pipe) as shapes:
        assert _sample(pipe, loop=True, pin=False).shape[1] == 4
    assert set(shapes) == {5}  # the planes alone: frame 4 is frame 0, given
    top = pipe.net.cfg.denoiser.max_frames
    with pytest.raises(KinetypeError, match=f"at most {top - LOOP_OVERLAP} frames"):
        pipe(["red on blue"], ["bounce in"], ["H^|i"], None, num_frames=top - 1, steps=1, loop=True)


def test_a_loop_from_text_is_one_pass_with_its_extra_frames_tied_to_the_first(pipes):
    _, pipe = pipes
    with denoiser_calls(pipe) as looped_calls:
        loop_ = _sample(pipe, loop=True)
    with denoiser_calls(pipe) as calls:
        plain = _sample(pipe)
    assert len(looped_calls) == len(calls)  # as many network calls as the clip without --loop
    assert np.array_equal(loop_, _sample(pipe, loop=True)) and not np.array_equal(loop_, plain)
    twice = _sample(pipe, loop=True, pin=False)  # the planes alone: sampled, then again from its first frame
    assert not np.array_equal(twice, loop_)


def test_given_frames_are_a_namedtuple_of_latents_and_flags():
    g = given(torch.zeros(1, 4, 2, 2), "first", 3)
    assert isinstance(g, Given) and g.latents.shape == (1, 3, 4, 2, 2) and g.flags.shape == (1, 3)


# --- the design context stream (DynamiCrafter's text-aligned context, tanh-gated) -------------


def test_the_design_context_starts_closed_then_carries_the_design_into_every_frame():
    net = _video_net()
    before = _run(net)
    net.add_given_frames(context=True, tokens=4)
    assert net.cfg.denoiser.design_context and net.cfg.denoiser.design_tokens == 4
    design = given(torch.randn(2, 4, 8, 8), "first", 4)
    assert torch.equal(_run(net, design), before)  # every gate and input weight at zero
    gates = [p for n, p in net.denoiser.named_parameters() if n.endswith("design_gate")]
    assert gates and all(g.item() == 0 for g in gates)
    with torch.no_grad():  # open the gates only: the tokens reach every frame, not just frame 0
        for g in gates:
            g.fill_(1.0)
    out = _run(net, design)
    assert all(not torch.allclose(out[:, f], before[:, f]) for f in range(4))
    assert torch.equal(_run(net), before)  # no design: the context is multiplied by 0


def test_the_design_context_trains_in_the_video_stage_and_needs_given_frames(tmp_path):
    net = _video_net()
    net.add_given_frames(context=True)
    video = {id(p) for p in net.video_parameters()}
    assert all(id(p) in video for n, p in net.denoiser.named_parameters() if "design" in n)
    with torch.no_grad():
        for n, p in net.denoiser.named_parameters():
            if n.endswith("design_gate"):
                p.fill_(0.5)
    design = given(torch.randn(2, 4, 8, 8), "first", 4)
    torch.manual_seed(1)
    x, t = torch.randn(2, 4, 4, 8, 8), torch.tensor([0.3, 0.7])
    caps = [net.tokenize(["red", "gold"]), net.tokenize(["bounce", "slide"]), net.tokenize(["H^|i", "o|k"])]
    net(x, t, *caps, glyph=torch.rand(2, 4, 8, 8), given=design).square().mean().backward()
    assert net.denoiser.design_encoder.queries.grad.abs().sum() > 0
    with pytest.raises(TrainingError, match="model.denoiser.design_context must be false without denoiser.given_frames"):
        resolve("tiny", overrides={"model": {"denoiser": {"design_context": True}}})
