"""The noise prior (kinetype.model.noise): its stated cross-frame correlation, and that training, the
model folder and sampling all use the one a model was trained with."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from kinetype.model.config import NoiseConfig  # noqa: E402
from kinetype.model.errors import ModelError, TrainingError  # noqa: E402
from kinetype.model.noise import draw_noise, frame_correlation  # noqa: E402
from kinetype.pipeline import Pipeline, read_model_folder  # noqa: E402
from kinetype.sample import solvers  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

SHAPE = (3000, 8, 2, 2, 2)  # clips, frames, a few latent elements: 24,000 samples per frame


def measured_correlation(noise: torch.Tensor, lag: int) -> float:
    frames = noise.transpose(0, 1).reshape(noise.shape[1], -1)  # (T, everything else)
    pairs = [torch.corrcoef(torch.stack([frames[f], frames[f + lag]]))[0, 1] for f in range(noise.shape[1] - lag)]
    return float(torch.stack(pairs).mean())


@pytest.mark.parametrize("prior", [NoiseConfig("mixed", 0.5), NoiseConfig("mixed", 0.9),
                                   NoiseConfig("progressive", 0.8)], ids=str)
def test_frames_are_as_correlated_as_the_prior_states_and_each_element_stays_standard_normal(prior):
    noise = draw_noise(SHAPE, torch.Generator().manual_seed(0), prior)
    for lag in (1, 2, 5):
        assert measured_correlation(noise, lag) == pytest.approx(frame_correlation(prior, lag), abs=0.02)
    per_frame = noise.transpose(0, 1).reshape(SHAPE[1], -1)
    assert per_frame.mean(1).abs().max() < 0.03
    assert (per_frame.std(1) - 1).abs().max() < 0.03


def test_independent_noise_is_exactly_what_models_were_trained_and_sampled_with_before():
    for prior in (NoiseConfig(), NoiseConfig("independent", 0.0)):
        a = draw_noise((2, 4, 4, 8, 8), torch.Generator().manual_seed(5), prior)
        assert torch.equal(a, torch.randn((2, 4, 4, 8, 8), generator=torch.Generator().manual_seed(5)))
    assert abs(measured_correlation(draw_noise(SHAPE, torch.Generator().manual_seed(0), NoiseConfig()), 1)) < 0.02


def test_the_same_seed_gives_the_same_noise_and_one_frame_is_a_plain_draw():
    prior = NoiseConfig("progressive", 0.7)
    a = draw_noise((2, 6, 4, 8, 8), torch.Generator().manual_seed(1), prior)
    assert torch.equal(a, draw_noise((2, 6, 4, 8, 8), torch.Generator().manual_seed(1), prior))
    single = draw_noise((2, 1, 4, 8, 8), torch.Generator().manual_seed(1), NoiseConfig("mixed", 0.9))
    assert torch.equal(single, torch.randn((2, 1, 4, 8, 8), generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("noise, message", [
    ({"kind": "mixed", "correlation": 1.0}, "model.noise.correlation must be in (0, 1) for mixed noise"),
    ({"kind": "independent", "correlation": 0.3}, "model.noise.correlation must be 0 for independent noise"),
    ({"kind": "pink"}, "model.noise.kind"),
])
def test_a_training_config_with_an_impossible_prior_is_refused_naming_the_field(noise, message):
    with pytest.raises(TrainingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve("tiny", overrides={"model": {"noise": noise}})


def test_the_model_folder_records_its_prior_and_sampling_starts_from_it(tmp_path, monkeypatch):
    folder = tiny_pipeline_folder(tmp_path / "model", num_frames=6)
    assert read_model_folder(folder).model.noise == NoiseConfig()  # the default, written down
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text())
    assert index["noise"] == {"kind": "independent", "correlation": 0.0}

    index["noise"] = {"kind": "mixed", "correlation": 0.9}
    index_file.write_text(json.dumps(index))
    pipe = Pipeline.from_pretrained(folder)
    assert pipe.noise == NoiseConfig("mixed", 0.9)
    starts = []
    real = solvers.SAMPLERS["ddim"]

    def spy(denoise, x, *args):
        starts.append(x.clone())
        return real(denoise, x, *args)

    monkeypatch.setitem(solvers.SAMPLERS, "ddim", spy)
    pipe(["white on black"] * 8, ["letters drop in"] * 8, ["H^|i"] * 8, sampler="ddim", steps=1, seed=0)
    x = starts[0]  # (8, 6, 4, 8, 8)
    assert measured_correlation(x, 1) == pytest.approx(0.9, abs=0.05)

    del index["noise"]  # a folder from before the option: trained on independent noise
    index_file.write_text(json.dumps(index))
    assert read_model_folder(folder).model.noise == NoiseConfig()


@pytest.mark.parametrize("noise, field", [([0.5], "noise must be a table"),
                                          ({"kind": "mixed", "correlation": 2}, "noise.correlation"),
                                          ({"kind": "mixed", "correlation": "high"}, "noise.correlation"),
                                          ({"kind": "mixed", "rho": 0.5}, "rho")])
def test_a_damaged_prior_in_a_model_folder_is_one_line_naming_the_index(tmp_path, noise, field):
    folder = tiny_pipeline_folder(tmp_path / "model")
    index = json.loads((folder / "model_index.json").read_text())
    index["noise"] = noise
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError) as e:
        read_model_folder(folder)
    assert str(folder / "model_index.json") in str(e.value) and field in str(e.value)
    assert "\n" not in str(e.value)


def test_a_run_trains_on_its_prior_and_exports_it(tmp_path, monkeypatch):
    from kinetype.train import loop
    from model_helpers import tiny_autoencoder_folder

    ae = tiny_autoencoder_folder(tmp_path / "vae")
    drawn = []
    real = loop.draw_noise

    def spy(shape, generator, prior, **kw):
        drawn.append(prior)
        return real(shape, generator, prior, **kw)

    monkeypatch.setattr(loop, "draw_noise", spy)
    prior = {"kind": "progressive", "correlation": 0.6}
    cfg = resolve("tiny", overrides={
        "stage": "video", "out": str(tmp_path / "run"), "model": {"autoencoder": {"path": str(ae)}, "noise": prior},
        "data": {"shards": "synthetic", "num_frames": 4, "batch_size": 1}, "optim": {"max_steps": 2},
        "sample_every": 0})
    exported = loop.train(cfg, echo=lambda s: None)
    assert drawn == [NoiseConfig(**prior)] * 2
    assert read_model_folder(exported).model.noise == NoiseConfig(**prior)
