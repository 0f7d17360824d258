"""Mitigating-gradient sampling (kinetype.sample.mitigate): the robust measure, and guidance that
lowers the frame differences of a tiny random model's samples on a fixed seed, with every solver."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.errors import KinetypeError  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402
from kinetype.pipeline import Pipeline  # noqa: E402
from kinetype.sample import SAMPLERS, sample_latents  # noqa: E402
from kinetype.sample.mitigate import frame_differences, mg_energy, mitigated, noise_share  # noqa: E402
from kinetype.sample.settings import MG_SCALE_DEFAULT, check_mg_scale  # noqa: E402

torch.set_num_threads(1)
SHAPE = (1, 6, 4, 8, 8)  # (B, T, C, h, w): the tiny preset's latents, six frames
PROMPT = (["gold letters on navy"], ["the letters drop in"], ["H^|i"])


@pytest.fixture(scope="module", params=["flow", "v"])
def pipe(request, tmp_path_factory):
    folder = tiny_pipeline_folder(tmp_path_factory.mktemp("mg") / "model", num_frames=SHAPE[1], objective=request.param)
    return Pipeline.from_pretrained(folder)


def latents(pipe, sampler: str, mg: float, seed: int = 3) -> torch.Tensor:
    return sample_latents(pipe.net, SHAPE, *PROMPT, None, objective=pipe.objective, sampler=sampler, steps=8,
                          seed=seed, mg=mg)


def test_the_measure_is_scale_free_robust_to_an_outlier_pair_and_zero_for_one_frame():
    x0 = torch.randn(2, 7, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    d = frame_differences(x0)
    assert d.shape == (2, 6)
    assert torch.allclose(d[0, 2], (x0[0, 3] - x0[0, 2]).pow(2).mean())
    e = mg_energy(x0)
    assert e.shape == (2,)
    assert torch.allclose(mg_energy(10 * x0), e, rtol=1e-5)  # the median sets the scale
    # A cut (one pair ~450x the others) adds about log(450) to E, where the sum of squares grows 70-fold.
    cut = x0.clone()
    cut[:, 4:] += 30 * x0[:, 4:].std()
    ratio = frame_differences(cut)[0, 3] / d[0, 3]
    assert ratio > 300 and frame_differences(cut)[0].sum() > 50 * d[0].sum()
    assert mg_energy(cut)[0] < e[0] + math.log(ratio)
    assert mg_energy(x0[:, :1]).tolist() == [0.0, 0.0]


def test_the_guidance_is_strongest_at_noise_and_nothing_at_the_data():
    assert noise_share(0.0, 1.0) == 1.0 and noise_share(1.0, 0.0) == 0.0
    assert noise_share(0.8, 0.2) < noise_share(0.5, 0.5) < noise_share(0.2, 0.8)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_mg_lowers_the_frame_differences_on_a_fixed_seed(pipe, sampler):
    diff = [float(frame_differences(latents(pipe, sampler, mg)).mean()) for mg in (0.0, 0.2, 0.5)]
    assert diff[0] > diff[1] > diff[2], diff
    assert diff[2] < 0.8 * diff[0], diff


def test_mg_is_deterministic_and_zero_is_exactly_off(pipe):
    assert torch.equal(latents(pipe, "dpm++", 0.3), latents(pipe, "dpm++", 0.3))
    assert torch.equal(latents(pipe, "dpm++", 0.0), latents(pipe, "dpm++", MG_SCALE_DEFAULT))
    denoise = object()
    assert mitigated(denoise, 0.0, "flow", [1.0, 0.0]) is denoise  # off costs nothing


def test_the_pipeline_passes_mg_through(pipe):
    plain = pipe(*PROMPT, steps=4, seed=1)
    smooth = pipe(*PROMPT, steps=4, seed=1, mg=0.5)
    assert plain.shape == smooth.shape and not (plain == smooth).all()


@pytest.mark.parametrize("scale", [-1.0, float("nan"), float("inf"), 10.5, 1e9])
def test_a_bad_scale_is_one_line_naming_the_option(scale):
    with pytest.raises(KinetypeError, match=r"^--mg must be a number from 0 to 10") as e:
        check_mg_scale(scale)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_an_mg_step_copies_nothing_to_the_device_and_reads_nothing_back(sampler, monkeypatch):
    """As tests/test_sample_pipeline.py checks plain sampling, on the meta device (a read-back raises there):
    the median, the backward pass and the step all stay on the device."""
    from host_syncs import HostSyncs

    from kinetype.model import KineTyNet
    from kinetype.train.config import PRESETS

    with torch.device("meta"):
        net = KineTyNet(PRESETS["tiny"].model).eval()
    syncs, marks = HostSyncs(), []
    denoise = net.denoise
    monkeypatch.setattr(net, "denoise", lambda *a, **k: (marks or marks.append(len(syncs.events)), denoise(*a, **k))[1])
    with syncs:
        sample_latents(net, (1, 4, 4, 8, 8), ["gold on navy"], ["letters drop in"], ["H^|i"], torch.rand(1, 4, 8, 8),
                       objective="flow", sampler=sampler, steps=5, guidance=3.0, mg=0.3,
                       progress=lambda i: marks.append(len(syncs.events)))
    assert len(marks) == 6 and len(set(marks)) == 1, syncs.events


def test_a_compiled_pipeline_samples_with_mg(pipe):
    """On CUDA `kinetype eval model` compiles the network; MG's backward pass then goes through the
    compiled graph (AOTAutograd here, as inductor does on the GPU) and gives the eager clip."""
    from kinetype.pipeline import Pipeline

    compiled = Pipeline(pipe.net, pipe.autoencoder, objective=pipe.objective, stage=pipe.stage, size_px=pipe.size_px,
                        num_frames=pipe.num_frames, fps=pipe.fps)
    eager = compiled(*PROMPT, steps=3, seed=0, mg=0.3)
    compiled.compile(backend="aot_eager")
    clip = compiled(*PROMPT, steps=3, seed=0, mg=0.3)
    assert clip.shape == eager.shape
    assert abs(clip.astype(int) - eager).max() <= 2  # fixed-length captions: equal up to float rounding
