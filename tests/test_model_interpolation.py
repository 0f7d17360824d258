"""Longer clips by keyframe interpolation (kinetype.model.interpolation): a clip of (n + 1)·K frames
is the keyframe model's K frames with the interpolator's n after each; the interpolator starts as
the keyframe model, trains in its own stage from faster shards without touching the model it
extends, travels in the model folder, and `generate --frames` uses it; what it cannot do gets one line."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from typer.testing import CliRunner  # noqa: E402

from kinetype.cli import app  # noqa: E402
from kinetype.errors import KinetypeError  # noqa: E402
from kinetype.model import KineTyNet  # noqa: E402
from kinetype.model.errors import ModelError, TrainingError  # noqa: E402
from kinetype.model.interpolation import gap_frames, join, neighbours, shared_noise, split, split_masks  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.model.weights import load_weights  # noqa: E402
from kinetype.pipeline import Pipeline, read_model_folder  # noqa: E402
from kinetype.train import loop  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)
runner = CliRunner()


def test_a_clip_splits_into_keyframes_and_the_gaps_after_them_and_joins_back():
    clip = torch.arange(2 * 8 * 3).float().view(2, 8, 3, 1, 1).expand(2, 8, 3, 2, 2)  # frame f of clip b: 3 channels
    keys, gaps = split(clip, 3)
    assert keys.shape == (2, 2, 3, 2, 2) and gaps.shape == (2, 2, 9, 2, 2)
    assert torch.equal(keys, clip[:, ::4])  # frames 0 and 4
    assert torch.equal(gap_frames(gaps, 3), clip[:, [1, 2, 3, 5, 6, 7]])  # gap g: frames 4g+1 .. 4g+3, in order
    assert torch.equal(join(keys, gaps, 3), clip)
    masks = torch.arange(8.0).view(1, 8, 1, 1)
    key_masks, gap_masks = split_masks(masks, 3)
    assert key_masks.flatten().tolist() == [0, 4] and gap_masks.flatten().tolist() == [1, 2, 3, 5, 6, 7]


def test_each_gap_is_given_its_keyframes_and_the_last_one_none_or_in_a_loop_the_first():
    keys = torch.randn(2, 3, 4, 2, 2)
    g = neighbours(keys)
    assert g.latents.shape == (2, 3, 8, 2, 2)
    assert torch.equal(g.latents[:, :, :4], keys)
    assert torch.equal(g.latents[:, :2, 4:], keys[:, 1:]) and not g.latents[:, 2, 4:].any()
    assert g.flags.tolist() == [[1, 1, 0]] * 2
    looped = neighbours(keys, loop=True)
    assert torch.equal(looped.latents[:, 2, 4:], keys[:, 0]) and looped.flags.all()


def test_a_gaps_in_betweens_start_from_one_noise_draw():
    noise = torch.randn(2, 3, 12, 2, 2)  # 3 in-betweens of 4 channels per gap
    shared = shared_noise(noise, 3)
    for i in range(3):
        assert torch.equal(shared[:, :, 4 * i:4 * (i + 1)], noise[:, :, :4])


def test_the_interpolator_starts_as_the_keyframe_model():
    """A still gap (its n latents equal) is predicted at first as the keyframe model predicts that
    frame, whatever the keyframes: the copy is exact, the new inputs start at zero."""
    torch.manual_seed(0)
    net = KineTyNet(model_preset("tiny")).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():  # the zero-initialised video branches: random, so they count
            if ".temporal.proj_out." in name or "word_out" in name:
                p.normal_(0, 0.02)
    net.add_interpolator(3)
    b, k, c, h = 2, 4, net.denoiser.latent_channels, 8
    frames = torch.randn(b, k, c, h, h)
    masks = (torch.rand(b, k, h, h) > 0.5).float()
    t = torch.tensor([0.3, 0.8])
    tok = net.tokenize(["red on blue", "green"])
    dyn, word = net.tokenize(["bounce in", "fade"]), net.tokenize(["H^|i", "o|k"])
    with torch.no_grad():
        want = net(frames, t, tok, dyn, word, masks, torch.ones(b))  # (B, K, C, h, w)
        gaps = frames.repeat(1, 1, 3, 1, 1)  # each gap: its frame three times
        got = net(gaps, t, tok, dyn, word, masks[:, :, None].expand(-1, -1, 3, -1, -1), torch.ones(b),
                  neighbours(torch.randn(b, k, c, h, h)), interpolate=True)
    assert got.shape == (b, k, 3 * c, h, h)
    for i in range(3):
        torch.testing.assert_close(got[:, :, i * c:(i + 1) * c], want, atol=2e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny 4-frame model at 8 fps with an interpolator of 3: 16 frames at 32 fps."""
    return tiny_pipeline_folder(tmp_path_factory.mktemp("interp") / "model", inbetweens=3)


def test_the_folder_keeps_the_interpolator_and_says_the_clips_it_makes(model, tmp_path):
    folder = read_model_folder(model)
    assert folder.interpolator.inbetweens == 3 and folder.interpolated_frames == 16
    assert json.loads((model / "model_index.json").read_text())["components"][-1] == "interpolator"
    clip = folder.clip(16)
    assert (clip.frames, clip.fps) == (16, 32)  # the model's duration, four times the frames
    assert (folder.clip(6).frames, folder.clip(6).fps) == (6, 8)  # any other count: sampled directly
    with pytest.raises(KinetypeError, match="or 16 by interpolation"):
        folder.clip(200)
    pipe = Pipeline.from_pretrained(model)
    again = pipe.save_pretrained(tmp_path / "again")
    assert (again / "interpolator" / "model.safetensors").read_bytes() == (model / "interpolator" / "model.safetensors").read_bytes()


@pytest.mark.parametrize("change, message", [
    (lambda cfg: cfg.update(inbetweens=0), "interpolator/config.json: inbetweens must be at least 1"),
    (lambda cfg: cfg.update(inbetweens="3"), "interpolator/config.json: inbetweens: expected an integer"),
    (lambda cfg: cfg.update(latent_channels=7), "interpolator/config.json: latent_channels must be"),
    (lambda cfg: cfg.update(channels=[16, 64]), "interpolator/model.safetensors"),
])
def test_a_broken_interpolator_config_is_one_line_naming_its_file(model, tmp_path, change, message):
    import shutil

    broken = shutil.copytree(model, tmp_path / "m")
    cfg_file = broken / "interpolator" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    change(cfg)
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=message) as e:
        read_model_folder(broken)
    assert "\n" not in str(e.value)


def test_an_interpolated_clip_is_the_models_keyframes_with_frames_between_deterministically(model):
    pipe = Pipeline.from_pretrained(model)
    masks = (np.random.default_rng(0).random((1, 16, 32, 32)) > 0.5).astype(np.float32)
    args = (["red on blue"], ["bounce in"], ["H^|i"], masks)
    kw = dict(num_frames=16, steps=3, seed=5)
    clip = pipe(*args, **kw)
    assert clip.shape == (1, 16, 32, 32, 3)
    assert np.array_equal(clip, pipe(*args, **kw))  # same seed, same bytes
    keys = pipe(["red on blue"], ["bounce in"], ["H^|i"], masks[:, ::4], num_frames=4, steps=3, seed=5)
    assert np.array_equal(clip[:, ::4], keys)  # every 4th frame is the keyframe model's own clip
    looped = pipe(*args, **kw, loop=True)  # any model: the last gap leads into the first keyframe
    assert np.array_equal(looped[:, ::4], keys) and not np.array_equal(looped[:, 13:], clip[:, 13:])
    direct = pipe(*args, **kw, interpolate=False)  # the denoiser alone, all 16 frames at once
    assert direct.shape == clip.shape and not np.array_equal(direct[:, ::4], keys)
    with pytest.raises(KinetypeError, match="last: in-betweening two designs is made at the model's own 4 frames"):
        pipe(*args, **kw, first=np.zeros((1, 32, 32, 3), np.uint8), last=np.zeros((1, 32, 32, 3), np.uint8))


def test_generate_frames_uses_the_interpolator_at_its_rate_and_loops_with_it(model, tmp_path):
    import av

    r = runner.invoke(app, ["generate", "Hi", "--motion", "bounce in", "--model", str(model), "--steps", "2",
                            "--frames", "16", "--loop", "--out", str(tmp_path / "a.mp4")])
    assert r.exit_code == 0, r.output
    assert "16 frames: the model's 4 keyframes, 3 interpolated after each" in r.output
    with av.open(str(tmp_path / "a.mp4")) as c:
        assert c.streams.video[0].average_rate == 32
        assert sum(1 for _ in c.decode(video=0)) == 16


def test_eval_scores_interpolated_loops_without_given_frames(model):
    from kinetype.eval import evaluate_model

    rep = evaluate_model(model, n=1, seed=1, steps=2, workers=1, progress=False, frames=16, given="loop")
    assert rep.config["given"] == "loop" and rep.config["num_frames"] == 16
    assert "loop_seam" in rep.summary  # (NaN here: the untrained tiny model draws still frames)
    for frames, given in ((None, "loop"), (16, "first")):  # unpinned, only a model with the input planes
        with pytest.raises(KinetypeError, match="not trained with given frames"):
            evaluate_model(model, n=1, seed=1, steps=2, workers=1, progress=False, frames=frames, given=given, pin=False)


def _stage(tmp_path, folder, **over):
    settings = {"stage": "interpolation", "init": str(folder), "out": str(tmp_path / "run"), "fps": 32,
                "data": {"shards": "synthetic", "num_frames": 16, "batch_size": 2}, "optim": {"max_steps": 2},
                "log_every": 1, "checkpoint_every": 1}
    for key, value in over.items():
        settings[key] = {**settings.get(key, {}), **value} if isinstance(value, dict) else value
    return resolve("tiny", overrides=settings)


def test_the_interpolation_stage_trains_the_interpolator_alone_and_exports_the_model_with_it(tmp_path):
    init = tiny_pipeline_folder(tmp_path / "init")
    out = loop.train(_stage(tmp_path, init), echo=lambda s: None)
    folder = read_model_folder(out)
    assert (folder.stage, folder.num_frames, folder.fps, folder.interpolated_frames) == ("video", 4, 8, 16)
    for part in ("denoiser", "text_encoder", "autoencoder"):  # the model it extends, byte for byte
        for f in (init / part).glob("*.safetensors"):
            assert (out / part / f.name).read_bytes() == f.read_bytes(), part
    trained = Pipeline.from_pretrained(out).net.interpolator
    start = KineTyNet(read_model_folder(init).model)
    load_weights(start.denoiser, init / "denoiser" / "model.safetensors")
    start.add_interpolator(3)
    moved = [k for k, v in trained.state_dict().items() if not torch.equal(v, start.interpolator.state_dict()[k])]
    assert any(k.startswith("x_embedder.") for k in moved) and any(".temporal_conv." in k for k in moved)


@pytest.mark.parametrize("over, message", [
    ({"init": None}, "pass --init MODEL"),
    ({"fps": 16}, "needs clips at 32 fps (4 x the 8 fps of --init"),
    ({"data": {"num_frames": 14}}, "data.num_frames must be a multiple of inbetweens + 1 (4)"),
    ({"inbetweens": 0}, "inbetweens must be an integer from 1 to 15"),
])
def test_an_interpolation_stage_it_cannot_run_is_one_line(tmp_path, over, message):
    init = tiny_pipeline_folder(tmp_path / "init")
    with pytest.raises(TrainingError, match=re.escape(message)) as e:
        loop.train(_stage(tmp_path, init, **over), echo=lambda s: None)
    assert "\n" not in str(e.value) and not (tmp_path / "run").exists()
