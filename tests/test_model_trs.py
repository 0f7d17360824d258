"""HARIVO's temporally regularised self-attention loss (kinetype.model.losses): what it measures,
that recording the maps changes nothing, and that it trains the video layers of a frozen image model."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model import KineTyNet  # noqa: E402
from kinetype.model.losses import recorded_self_attention, self_attention_smoothness  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.train import loop  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from model_helpers import tiny_autoencoder_folder  # noqa: E402

torch.set_num_threads(1)


def row_stochastic(*shape) -> torch.Tensor:
    return torch.rand(*shape).softmax(-1)


def test_steady_maps_cost_nothing_and_a_change_costs_more_in_later_layers():
    steady = row_stochastic(2, 1, 2, 8, 8).expand(2, 4, 2, 8, 8).flatten(0, 1)  # (B*T, heads, S, S), frames alike
    moving = row_stochastic(8, 2, 8, 8)
    assert self_attention_smoothness([[steady], [steady]], frames=4) == 0
    early = self_attention_smoothness([[moving], [steady]], frames=4)  # the change in the first (deepest) layer
    late = self_attention_smoothness([[steady], [moving]], frames=4)  # ... or in the last
    assert 0 < early < late
    assert late == pytest.approx(2 * early)  # w_l = l / L: the second of two layers weighs twice the first


@pytest.fixture(scope="module")
def tiny_net():
    torch.manual_seed(0)
    net = KineTyNet(model_preset("tiny")).eval()
    with torch.no_grad():  # the video layers start at zero; give them weights so frames interact
        for name, p in net.named_parameters():
            if ".temporal.proj_out." in name or "word_out" in name:
                p.normal_(0, 0.02)
    return net


def test_recording_the_maps_changes_no_output_and_gives_one_map_per_decoder_layer(tiny_net):
    net = tiny_net
    x, t = torch.randn(2, 3, 4, 8, 8), torch.tensor([0.3, 0.7])
    tokens = net.tokenize(["red on blue", "white on black"])
    with torch.no_grad():
        plain = net(x, t, tokens, tokens, tokens)
        with recorded_self_attention(net.denoiser) as sinks:
            recorded = net(x, t, tokens, tokens, tokens)
    assert torch.allclose(plain, recorded, atol=1e-5)
    decoder_layers = [layer for level in net.denoiser.up for layer in level.layers if layer.spatial is not None]
    assert len(sinks) == len(decoder_layers) > 0
    for sink in sinks:
        (maps,) = sink
        assert maps.shape[0] == 2 * 3 and maps.shape[-1] == maps.shape[-2]
        assert torch.allclose(maps.sum(-1), torch.ones(()), atol=1e-5)
    assert all(layer.spatial.map_sink is None for layer in decoder_layers)  # nothing kept after the block


def test_the_loss_reaches_the_temporal_layers(tiny_net):
    net = tiny_net
    x, t = torch.randn(1, 4, 4, 8, 8), torch.tensor([0.5])
    tokens = net.tokenize(["letters drop in"])
    net.zero_grad()
    with recorded_self_attention(net.denoiser) as sinks:
        net(x, t, tokens, tokens, tokens)
        self_attention_smoothness(sinks, frames=4).backward()
    temporal = [p.grad for name, p in net.denoiser.named_parameters() if ".temporal." in name]
    assert any(g is not None and g.abs().sum() > 0 for g in temporal)


def test_a_video_stage_on_a_frozen_image_model_logs_and_trains_on_it(tmp_path):
    ae = tiny_autoencoder_folder(tmp_path / "vae")
    cfg = resolve("tiny", overrides={
        "stage": "video", "out": str(tmp_path / "run"), "model": {"autoencoder": {"path": str(ae)}},
        "video_trains": "video", "loss": {"trs_weight": 1.0}, "log_every": 1,
        "data": {"shards": "synthetic", "num_frames": 4, "batch_size": 1}, "optim": {"max_steps": 2},
        "sample_every": 0})
    loop.train(cfg, echo=lambda s: None)
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["trs"] >= 0 for r in rows) and any(r["trs"] > 0 for r in rows)
