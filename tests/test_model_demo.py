"""DEMO's decomposed text encoding and text-motion loss (kinetype.model.text, kinetype.model.losses):
a motion encoder that starts as the content encoder's copy and then encodes only the dynamic caption,
stored in the model folder; a loss that is zero when the pooled token's map changes where the clip
does; and a video stage that adds the encoder to a model without one and trains it."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model import KineTyNet  # noqa: E402
from kinetype.model.errors import TrainingError  # noqa: E402
from kinetype.model.losses import pooled_token, recorded_motion_attention, text_motion_loss  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.pipeline import Pipeline  # noqa: E402
from kinetype.train import loop  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from model_helpers import tiny_autoencoder_folder, tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture()
def net():
    torch.manual_seed(0)
    net = KineTyNet(model_preset("tiny")).eval()
    with torch.no_grad():  # the video layers start at zero; give them weights so captions matter
        for name, p in net.named_parameters():
            if ".temporal.proj_out." in name or "word_out" in name:
                p.normal_(0, 0.02)
    return net


def run(net, dynamic="bounce in", static="red on blue"):
    torch.manual_seed(1)
    x, t = torch.randn(1, 3, 4, 8, 8), torch.tensor([0.5])
    with torch.no_grad():
        return net(x, t, net.tokenize([static]), net.tokenize([dynamic]), net.tokenize(["H|i"]))


def test_the_motion_encoder_starts_as_a_copy_and_then_encodes_only_the_dynamic_caption(net):
    before = run(net)
    net.add_motion_encoder()
    assert net.cfg.text.motion_encoder and net.text_encoder.motion is not None
    assert torch.allclose(run(net), before, atol=1e-5)  # added as a copy: the model is unchanged (up to batching)
    with torch.no_grad():
        for p in net.text_encoder.motion.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    tokens = net.tokenize(["red on blue"])
    static = net.encode(tokens).static.embeddings
    assert torch.equal(static, net.text_encoder(tokens).embeddings)  # the content encoder, untouched
    dynamic = net.encode(tokens, tokens).dynamic.embeddings
    assert torch.allclose(dynamic, net.text_encoder.motion(tokens).embeddings)
    assert not torch.allclose(dynamic, static)
    assert not torch.equal(run(net), before)


def test_the_motion_encoder_is_a_video_layer_saved_in_the_text_encoder_component(net, tmp_path):
    from kinetype.model import Autoencoder

    net.add_motion_encoder()
    motion_ids = {id(p) for p in net.text_encoder.motion.parameters()}
    assert motion_ids <= {id(p) for p in net.video_parameters()}
    cfg = model_preset("tiny")
    pipe = Pipeline(net, Autoencoder(cfg.autoencoder).eval(), objective="flow", stage="video", size_px=32,
                    num_frames=3, fps=8)
    folder = pipe.save_pretrained(tmp_path / "m")
    assert json.loads((folder / "text_encoder" / "config.json").read_text())["motion_encoder"] is True
    loaded = Pipeline.from_pretrained(folder)
    assert loaded.net.text_encoder.motion is not None
    assert torch.allclose(run(loaded.net), run(net), atol=1e-6)


def test_the_loss_is_zero_when_the_map_changes_where_the_clip_does():
    b, heads, h, w, t, length = 1, 2, 4, 4, 3, 5
    x0 = torch.zeros(b, t, 2, h, w)
    x0[:, 1, :, 0, 0] = 1.0  # the clip changes at one pixel, from frame 0 to 1 and back from 1 to 2
    maps = torch.full((b, heads, h, w, t, length), 0.1)
    maps[:, :, 0, 0, 1, 4] = 0.9  # the pooled token (position 4) flares at that pixel in frame 1
    pooled, keep = torch.tensor([4]), torch.tensor([True])
    assert text_motion_loss([[maps]], pooled, x0, keep) == pytest.approx(0.0, abs=1e-6)
    elsewhere = torch.full_like(maps, 0.1)
    elsewhere[:, :, 3, 3, 1, 4] = 0.9  # ... or at another pixel: no overlap, the loss is 1
    assert text_motion_loss([[elsewhere]], pooled, x0, keep) == pytest.approx(1.0)
    assert text_motion_loss([[elsewhere]], pooled, x0, torch.tensor([False])) == 0  # a dropped caption


def test_the_pooled_token_is_the_end_of_text_token(net):
    tokens = net.tokenize(["up", "bounce in"], fixed_length=False)
    assert pooled_token(tokens.ids).tolist() == [3, 10]  # BOS + the bytes, then EOS


def test_the_loss_reaches_the_motion_encoder(net):
    net.add_motion_encoder()
    x, t = torch.randn(1, 3, 4, 8, 8), torch.tensor([0.5])
    dynamic = net.tokenize(["slide from the left"])
    with recorded_motion_attention(net.denoiser) as sinks:
        net(x, t, net.tokenize(["red"]), dynamic, net.tokenize(["H|i"]))
        text_motion_loss(sinks, pooled_token(dynamic.ids), torch.randn(1, 3, 4, 8, 8), torch.tensor([True])).backward()
    assert len(sinks) == sum(1 for m in net.denoiser.modules() if hasattr(m, "dynamic_attn"))
    grads = [p.grad for p in net.text_encoder.motion.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_a_video_stage_adds_the_motion_encoder_to_an_init_model_and_trains_it(tmp_path):
    init = tiny_pipeline_folder(tmp_path / "init", num_frames=4)
    cfg = resolve("tiny", overrides={
        "stage": "video", "out": str(tmp_path / "run"), "init": str(init), "log_every": 1,
        "model": {"text": {"motion_encoder": True}}, "loss": {"text_motion_weight": 0.1},
        "data": {"shards": "synthetic", "num_frames": 4, "batch_size": 1}, "optim": {"max_steps": 2},
        "sample_every": 0})
    loop.train(cfg, echo=lambda s: None)
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [1, 2] and all(0 <= r["text_motion"] <= 2 for r in rows)
    trained = Pipeline.from_pretrained(tmp_path / "run" / "pipeline")
    start = Pipeline.from_pretrained(init).net.text_encoder.state_dict()
    motion = trained.net.text_encoder.motion.state_dict()
    assert any(not torch.equal(motion[k], start[k]) for k in start)  # it trained from the content encoder's copy


def test_a_motion_encoder_with_clip_is_refused_in_one_line(tmp_path):
    ae = tiny_autoencoder_folder(tmp_path / "vae")
    with pytest.raises(TrainingError, match="model.text.motion_encoder"):
        resolve("tiny", overrides={"model": {"autoencoder": {"path": str(ae)},
                                             "text": {"kind": "clip", "clip_path": str(tmp_path), "motion_encoder": True}}})
