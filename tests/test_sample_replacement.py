"""Given frames pinned while sampling (kinetype.sample.replacement): every solver returns a given
frame's latent exactly and leaves the others to the model, and with it any model animates a design."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model.errors import ModelError  # noqa: E402
from kinetype.model.frames import Given  # noqa: E402
from kinetype.model.objective import add_noise  # noqa: E402
from kinetype.pipeline import Pipeline  # noqa: E402
from kinetype.sample import SAMPLERS, sample_latents  # noqa: E402
from kinetype.sample.replacement import replaced, seam_smoothed, tied  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)
SHAPE = (1, 6, 4, 8, 8)  # (B, T, C, h, w)
PROMPT = (["gold letters on navy"], ["the letters drop in"], ["H^|i"])


@pytest.fixture(scope="module", params=["flow", "v"])
def pipe(request, tmp_path_factory):
    folder = tiny_pipeline_folder(tmp_path_factory.mktemp("pin") / "model", num_frames=SHAPE[1], objective=request.param)
    return Pipeline.from_pretrained(folder)


def ends_given() -> Given:
    g = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    flags = torch.tensor([[1.0, 0, 0, 0, 0, 1.0]])
    return Given(g * flags[:, :, None, None, None], flags)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_solver_ends_a_pinned_frame_on_its_latent_and_samples_the_others(pipe, sampler):
    given = ends_given()

    def run(replace: bool) -> torch.Tensor:
        return sample_latents(pipe.net, SHAPE, *PROMPT, None, objective=pipe.objective, sampler=sampler, steps=6,
                              seed=3, given=given, replace=replace)

    pinned, free = run(True), run(False)
    assert torch.equal(pinned[:, [0, 5]], given.latents[:, [0, 5]])
    assert not torch.allclose(free[:, [0, 5]], given.latents[:, [0, 5]], atol=0.1)  # unpinned: the model's own
    assert torch.isfinite(pinned).all() and pinned[:, 1:5].std() > 0.1  # the others are sampled, not copied


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_tied_last_frames_end_as_the_first_in_every_solver_and_under_mg(pipe, sampler):
    """A loop from text (Pipeline(loop=True)): the frames sampled past the end are the first again."""
    def run(tie: int, mg: float = 0.0) -> torch.Tensor:
        return sample_latents(pipe.net, SHAPE, *PROMPT, None, objective=pipe.objective, sampler=sampler, steps=6,
                              seed=3, tie=tie, mg=mg)

    free = run(0)
    for k, out in ((1, run(1)), (2, run(2)), (2, run(2, mg=0.5))):
        assert torch.equal(out[:, -k:], out[:, :k])
        assert not torch.allclose(out[:, 0], free[:, 0], atol=1e-3)  # the first frame now fits both sides
        assert torch.isfinite(out).all() and (out[:, 1:] - out[:, :-1]).abs().amax() > 0.1  # not copies
    assert not torch.equal(free[:, -1], free[:, 0])


def test_the_tie_gives_tied_frames_the_mean_of_their_predictions():
    x0 = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)
    eps = -x0
    t0, te = tied(lambda x, t: (x0, eps), overlap=2)(torch.zeros(2, 5, 3), 0.5)
    assert torch.equal(t0[:, :2], (x0[:, :2] + x0[:, -2:]) / 2) and torch.equal(t0[:, -2:], t0[:, :2])
    assert torch.equal(te, -t0) and torch.equal(t0[:, 2], x0[:, 2])
    assert tied(lambda x, t: (x0, eps), overlap=0)(None, 0.5) == (x0, eps)


def test_seam_smoothing_moves_the_seams_two_frames_toward_their_neighbours_near_noise_only():
    x0 = torch.randn(1, 7, 2, generator=torch.Generator().manual_seed(0))  # T = 5 frames, then frames 0, 1 again
    x0[:, 5:] = x0[:, :2]
    eps = torch.randn(1, 7, 2, generator=torch.Generator().manual_seed(1))
    times = [1.0, 0.5, 0.0]
    smooth = seam_smoothed(lambda x, t: (x0, eps), frames=5, scale=1.0, objective="flow", times=times)
    near_noise, _ = smooth(None, 1.0)  # flow: alpha 0, sigma 1, so the frames go onto their neighbours' mean
    torch.testing.assert_close(near_noise[:, 4], (x0[:, 3] + x0[:, 0]) / 2)
    torch.testing.assert_close(near_noise[:, 0], (x0[:, 4] + x0[:, 1]) / 2)
    assert torch.equal(near_noise[:, 5], near_noise[:, 0]) and torch.equal(near_noise[:, 6], x0[:, 1])  # still tied
    assert torch.equal(near_noise[:, 1:4], x0[:, 1:4])  # only the seam's frames move
    halfway, halfway_eps = smooth(None, 0.5)  # flow: alpha = sigma, noise share 1/2
    torch.testing.assert_close(halfway[:, 4], x0[:, 4] + 0.5 * ((x0[:, 3] + x0[:, 0]) / 2 - x0[:, 4]))
    torch.testing.assert_close(halfway + halfway_eps, x0 + eps)  # x_t = alpha x0 + sigma eps unchanged
    at_data, _ = smooth(None, 0.0)
    assert torch.equal(at_data, x0)  # the network alone draws the detail
    plain = lambda x, t: (x0, eps)  # noqa: E731
    assert seam_smoothed(plain, frames=5, scale=0.0, objective="flow", times=times) is plain


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_a_smoothed_seam_is_a_smaller_step_than_the_tie_alone_and_keeps_the_loop_tied(pipe, sampler):
    def run(seam: float, **kw) -> torch.Tensor:
        return sample_latents(pipe.net, SHAPE, *PROMPT, None, objective=pipe.objective, sampler=sampler, steps=6,
                              seed=3, tie=2, seam=seam, **kw)

    def seam_step(out):  # the step from the loop's last frame (T - 1 = 3) into its first
        return (out[:, 3] - out[:, 0]).abs().mean()

    tie_only, smoothed = run(0.0), run(1.0)
    assert torch.equal(smoothed[:, -2:], smoothed[:, :2])
    assert seam_step(smoothed) < 0.8 * seam_step(tie_only)
    assert torch.equal(smoothed, run(1.0))  # deterministic
    loop_design = Given(ends_given().latents[:, :6], torch.tensor([[1.0, 0, 0, 0, 1.0, 0]]))  # design at 0 and T
    pinned = run(1.0, given=loop_design, replace=True)
    assert torch.equal(pinned[:, [0, 4]], loop_design.latents[:, [0, 4]])  # the design is not smoothed away


def test_pinned_frames_stay_exact_under_mitigating_gradients(pipe):
    given = ends_given()
    out = sample_latents(pipe.net, SHAPE, *PROMPT, None, objective=pipe.objective, steps=4, seed=3, given=given,
                         replace=True, mg=0.5)
    assert torch.equal(out[:, [0, 5]], given.latents[:, [0, 5]])


def test_the_pinned_prediction_is_the_given_latent_and_the_noise_that_puts_it_at_x_t(pipe):
    given = ends_given()
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    t = 0.4
    x = add_noise(given.latents, noise, torch.full((1,), t), pipe.objective)
    model = lambda x, t: (torch.zeros_like(x), torch.ones_like(x))  # noqa: E731 - a network predicting nothing useful
    x0, eps = replaced(model, given, pipe.objective, [t])(x, t)
    torch.testing.assert_close(x0[:, [0, 5]], given.latents[:, [0, 5]])
    torch.testing.assert_close(eps[:, [0, 5]], noise[:, [0, 5]], atol=1e-5, rtol=1e-5)
    assert torch.equal(x0[:, 1:5], torch.zeros_like(x0[:, 1:5])) and torch.equal(eps[:, 1:5], torch.ones_like(eps[:, 1:5]))


def test_a_model_without_given_frames_animates_a_design_from_its_first_frame(tmp_path):
    pipe = Pipeline.from_pretrained(tiny_pipeline_folder(tmp_path / "model", num_frames=4))
    assert not pipe.net.cfg.denoiser.given_frames
    rng = np.random.default_rng(0)
    design = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    masks = (rng.random((1, 4, 32, 32)) > 0.5).astype(np.float32)
    kw = dict(steps=3, seed=2, first=design)
    clip = pipe(*PROMPT, masks, **kw)
    assert np.array_equal(clip, pipe(*PROMPT, masks, **kw))  # same seed, same bytes
    with torch.no_grad():  # the design through the autoencoder and back, with frame 0's glyph layout
        image = torch.tensor(design).permute(0, 3, 1, 2)[:, None].float().div(127.5).sub(1.0)
        mask = torch.tensor(masks[:, :1])
        back = pipe.autoencoder.decode(pipe.autoencoder.encode(image, mask), mask)[0, 0]
    want = ((back.clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy()
    assert np.abs(clip[0, 0].astype(np.float32) - want).max() <= 1.0  # frame 0 is the design's latent
    assert not np.array_equal(clip[0, 1], clip[0, 0])
    with pytest.raises(ModelError, match="not trained with given frames") as e:
        pipe(*PROMPT, masks, **kw, pin=False)
    assert "\n" not in str(e.value)
