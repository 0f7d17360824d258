"""The pipeline folder: save -> load gives identical samples; local CLIP / VAE folders; broken folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from kinetype.model import Autoencoder  # noqa: E402
from kinetype.model.errors import ModelError  # noqa: E402
from model_helpers import tiny_autoencoder_folder, tiny_clip_folder, tiny_pipeline_folder  # noqa: E402
from kinetype.pipeline import Pipeline  # noqa: E402

torch.set_num_threads(1)
PROMPT = (["gold letters on navy"], ["the letters drop in"], ["H^|i"])


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory):
    return tiny_pipeline_folder(tmp_path_factory.mktemp("pipe") / "model")


def test_save_load_gives_identical_samples(pipe_dir, tmp_path):
    pipe = Pipeline.from_pretrained(pipe_dir)
    masks = np.zeros((1, 4, 32, 32), np.float32)
    masks[:, :, 10:20, 8:24] = 1
    first = pipe(*PROMPT, masks, steps=4, seed=3)
    again = Pipeline.from_pretrained(pipe.save_pretrained(tmp_path / "copy"))(*PROMPT, masks, steps=4, seed=3)
    assert first.shape == (1, 4, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, pipe(*PROMPT, masks, steps=4, seed=4))  # the seed matters
    assert not np.array_equal(first, pipe(*PROMPT, None, steps=4, seed=3))  # so does the glyph layout


@pytest.mark.parametrize("sampler", ["ddim", "dpm++", "euler"])
def test_every_sampler_is_deterministic_and_guidance_matters(pipe_dir, sampler):
    pipe = Pipeline.from_pretrained(pipe_dir)
    a = pipe(*PROMPT, steps=3, seed=0, sampler=sampler, guidance=3.0)
    assert np.array_equal(a, pipe(*PROMPT, steps=3, seed=0, sampler=sampler, guidance=3.0))
    assert not np.array_equal(a, pipe(*PROMPT, steps=3, seed=0, sampler=sampler, guidance=1.0))


def test_local_vae_folder_loads_the_same_weights(tmp_path):
    from diffusers import AutoencoderKL

    folder = tiny_autoencoder_folder(tmp_path / "vae")
    raw = AutoencoderKL.from_pretrained(str(folder), local_files_only=True)
    ours = Autoencoder.from_folder(folder)
    x = torch.rand(1, 2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        z = ours.encode(x)
        assert z.shape == (1, 2, 4, 8, 8)
        torch.testing.assert_close(z[0], raw.encode(x[0]).latent_dist.mode() * raw.config.scaling_factor)
        assert ours.decode(z).shape == x.shape


def test_local_clip_text_encoder_is_frozen_and_saved_with_the_pipeline(tmp_path):
    clip = tiny_clip_folder(tmp_path / "clip")
    folder = tiny_pipeline_folder(tmp_path / "model", clip=clip)
    pipe = Pipeline.from_pretrained(folder)
    assert json.loads((folder / "model_index.json").read_text())["text_encoder"] == "clip"
    assert (folder / "text_encoder" / "tokenizer_config.json").is_file()
    te = pipe.net.text_encoder
    assert not any(p.requires_grad for p in te.parameters())
    emb, mask = te(te.tokenizer()(["H^|e|l|l|o", "Ünïcode"]))
    assert emb.shape == (2, 32, 32) and mask.all()
    a = pipe(*PROMPT, steps=2, seed=1)
    assert np.array_equal(a, Pipeline.from_pretrained(pipe.save_pretrained(tmp_path / "copy"))(*PROMPT, steps=2, seed=1))


def test_clip_preset_path_trains(tmp_path):
    """The image stage with a frozen local CLIP: the encoder stays as it was."""
    from kinetype.train.config import resolve
    from kinetype.train.loop import train

    clip = tiny_clip_folder(tmp_path / "clip")
    ae = tiny_autoencoder_folder(tmp_path / "vae")
    cfg = resolve("tiny", overrides={
        "stage": "image", "out": str(tmp_path / "run"), "data": {"shards": "synthetic", "batch_size": 2},
        "optim": {"max_steps": 2}, "model": {"autoencoder": {"path": str(ae)}, "text": {"kind": "clip", "clip_path": str(clip)}}})
    out = train(cfg, echo=lambda s: None)
    before = Pipeline.from_pretrained(tiny_pipeline_folder(tmp_path / "ref", clip=clip)).net.text_encoder.model
    after = Pipeline.from_pretrained(out).net.text_encoder.model
    for (n, p), (_, q) in zip(before.named_parameters(), after.named_parameters()):
        assert torch.equal(p, q), n


def test_broken_model_folders_give_one_line_errors(pipe_dir, tmp_path):
    with pytest.raises(ModelError, match="no model at .*kinetype train"):
        Pipeline.from_pretrained(tmp_path / "nothing")
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(pipe_dir, broken)
    (broken / "denoiser" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match="corrupt weights") as e:
        Pipeline.from_pretrained(broken)
    assert "\n" not in str(e.value)
    shutil.rmtree(broken)
    shutil.copytree(pipe_dir, broken)
    (broken / "autoencoder" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="autoencoder.*corrupt weights") as e:  # caught by its SHA-256
        Pipeline.from_pretrained(broken)
    assert "\n" not in str(e.value)
    import json

    index = json.loads((broken / "model_index.json").read_text())
    del index["sha256"]  # a folder without digests cannot be checked: refused before anything loads
    (broken / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="sha256 must be a table") as e:
        Pipeline.from_pretrained(broken)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("sampler", ["ddim", "dpm++", "euler"])
def test_a_solver_step_copies_nothing_to_the_device_and_reads_nothing_back(sampler, monkeypatch):
    """Sampling on the meta device (shapes only: a read-back there raises): the captions, the layout
    and the initial noise cross before the first step, and no solver step copies or reads anything."""
    from host_syncs import HostSyncs

    from kinetype.model import KineTyNet
    from kinetype.sample import guidance
    from kinetype.train.config import PRESETS

    with torch.device("meta"):
        net = KineTyNet(PRESETS["tiny"].model).eval()
    syncs, marks = HostSyncs(), []
    denoise = net.denoise  # the first network call opens step 1
    monkeypatch.setattr(net, "denoise", lambda *a, **k: (marks or marks.append(len(syncs.events)), denoise(*a, **k))[1])
    with syncs:
        guidance.sample_latents(net, (1, 4, 4, 8, 8), ["gold on navy"], ["letters drop in"], ["H^|i"], torch.rand(1, 4, 8, 8),
                                objective="flow", sampler=sampler, steps=5, guidance=3.0,
                                progress=lambda i: marks.append(len(syncs.events)))
    assert len(marks) == 6 and len(set(marks)) == 1, syncs.events  # the same count before and after every step
    assert marks[0] == len(syncs.events) > 0  # the copies made before the loop (captions, layout, noise)


def test_a_compiled_pipeline_traces_once_for_every_step_and_prompt(pipe_dir):
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    pipe = Pipeline.from_pretrained(pipe_dir)
    plain = pipe(*PROMPT, steps=3, seed=0)
    pipe.compile(backend=backend)
    assert np.array_equal(pipe(*PROMPT, steps=3, seed=0), plain)
    traced = len(graphs)
    pipe(["white on black"], ["the letters spin in, one by one"], ["o|k"], steps=4, seed=1, sampler="euler")
    assert traced >= 1 and len(graphs) == traced


@pytest.mark.parametrize("field, value, message", [
    ("size_px", "128", "size_px must be an integer between 16 and 4096"),
    ("num_frames", 0, "num_frames must be an integer between 1 and 1000"),
    ("fps", 1000, "fps must be an integer between 1 and 120"),
    ("objective", "score", "objective must be one of flow, v, eps"),
    ("components", "autoencoder", "components must be a list"),
    ("sha256", ["x"], "sha256 must be a table"),
    ("stage", 3, "stage must be one of"),
])
def test_a_damaged_model_index_is_refused_in_one_line_naming_the_field(pipe_dir, tmp_path, field, value, message):
    import shutil

    from kinetype.pipeline import read_model_folder

    broken = tmp_path / "broken"
    shutil.copytree(pipe_dir, broken)
    index = json.loads((broken / "model_index.json").read_text())
    (broken / "model_index.json").write_text(json.dumps({**index, field: value}))
    with pytest.raises(ModelError, match=message) as e:
        read_model_folder(broken)
    assert "model_index.json" in str(e.value) and "\n" not in str(e.value)


def test_a_nan_in_the_model_index_is_refused(pipe_dir, tmp_path):
    import shutil

    from kinetype.pipeline import read_model_folder

    broken = tmp_path / "broken"
    shutil.copytree(pipe_dir, broken)
    text = (broken / "model_index.json").read_text().replace('"fps": 8', '"fps": NaN')
    (broken / "model_index.json").write_text(text)
    with pytest.raises(ModelError, match="fps is nan, not a number JSON allows"):
        read_model_folder(broken)
