"""The caption's named colours (kinetype.model.colours): read from every caption form the engine
writes and from everyday phrases; a vector that a blank caption leaves at zero; an embedding that a
trained model gains without changing its output, that a video stage trains, and that then makes
the colours a caption names change the clip."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model import KineTyNet  # noqa: E402
from kinetype.model.colours import COLOUR_DIM, caption_colours, named_colours  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.pipeline import Pipeline  # noqa: E402
from kinetype.render import render_clip  # noqa: E402
from kinetype.render.palettes import COLOURS  # noqa: E402
from kinetype.render.templates import default_templates, load_templates  # noqa: E402
from kinetype.train import loop  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from kinetype.train.data import drop_captions  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)


def test_every_caption_form_the_engine_writes_names_its_palette_text_and_background():
    templates = load_templates(default_templates())
    for i, template in enumerate(templates[::7]):  # 120 templates: every form, fill, effect and background kind
        clip = render_clip(template, "Hello", i, size=64, num_frames=4, fps=4, pixels=False)
        palette = clip.plan.style.palette
        assert named_colours(clip.captions.static) == (palette.text, palette.background), clip.captions.static


@pytest.mark.parametrize("caption, want", [
    ("white on black", ("white", "black")),
    ("Gold letters on a navy background", ("gold", "navy")),
    ("a plain deep red background with text in ivory", ("ivory", "deep red")),  # the longer name wins
    ("red letters, blue background", ("red", "royal blue")),  # an everyday name read as the engine's nearest
    ("Text in a bold font, solid white; the backdrop is a black background with a grid.", ("white", "black")),
    ("Hot pink lettering with a cyan neon glow against a midnight blue striped background.", ("hot pink", "midnight blue")),
    ("bold serif letters", (None, None)),
    ("", (None, None)),
])
def test_phrases_name_their_colours(caption, want):
    assert named_colours(caption) == want


def test_the_vector_holds_each_named_colour_and_a_flag_and_zeros_where_none_is_named():
    v = caption_colours(["white on black", "gold letters", ""])
    assert v.shape == (3, COLOUR_DIM)
    assert torch.allclose(v[0, :3], torch.tensor(COLOURS["white"]) / 127.5 - 1)
    assert torch.allclose(v[0, 3:6], torch.tensor(COLOURS["black"]) / 127.5 - 1)
    assert v[0, 6:].tolist() == [1.0, 1.0]
    assert v[1, 6:].tolist() == [1.0, 0.0] and not v[1, 3:6].any()
    assert not v[2].any()  # the blank caption of guidance's unconditional branch names nothing


def test_tokens_carry_the_colours_and_a_dropped_caption_drops_them():
    net = KineTyNet(model_preset("tiny"))
    tokens = net.tokenize(["white on black", "gold on navy"])
    assert torch.equal(tokens.colour, caption_colours(["white on black", "gold on navy"]))
    dropped = drop_captions(tokens, torch.tensor([True, False]), net.tokenize([""]))
    assert torch.equal(dropped.colour[0], tokens.colour[0]) and not dropped.colour[1].any()
    assert torch.equal(net.encode(tokens).colour, tokens.colour)  # the static caption's reach the denoiser


def _run(net, static):
    torch.manual_seed(1)
    x, t = torch.randn(2, 4, 4, 8, 8), torch.tensor([0.3, 0.7])
    with torch.no_grad():
        return net(x, t, net.tokenize(static), net.tokenize(["bounce in"] * 2), net.tokenize(["H^|i"] * 2),
                   glyph=torch.rand(2, 4, 8, 8))


def test_a_trained_model_gains_the_embedding_unchanged_and_then_follows_the_named_colours():
    torch.manual_seed(0)
    net = KineTyNet(model_preset("tiny")).eval()
    before = _run(net, ["white on black", "gold on navy"])
    net.add_colour_embedding()
    assert net.cfg.denoiser.colour_embedding
    assert torch.equal(_run(net, ["white on black", "gold on navy"]), before)  # zero output: the same model
    with torch.no_grad():  # stand-in for training: the embedding's output layer moves
        net.denoiser.colour_embedding.mlp[-1].weight.normal_(0, 0.1)
    a, b = _run(net, ["white on black"] * 2), _run(net, ["black on white"] * 2)
    assert not torch.allclose(a, b)  # the named colours now change the prediction


def test_a_video_stage_adds_the_embedding_to_an_init_model_trains_it_and_the_folder_keeps_it(tmp_path):
    init = tiny_pipeline_folder(tmp_path / "init", num_frames=4)
    cfg = resolve("tiny", overrides={
        "stage": "video", "out": str(tmp_path / "run"), "init": str(init),
        "model": {"denoiser": {"colour_embedding": True}},
        "data": {"shards": "synthetic", "num_frames": 4, "batch_size": 2}, "optim": {"max_steps": 2},
        "sample_every": 0})
    loop.train(cfg, echo=lambda s: None)
    folder = tmp_path / "run" / "pipeline"
    assert json.loads((folder / "denoiser" / "config.json").read_text())["colour_embedding"] is True
    pipe = Pipeline.from_pretrained(folder)
    assert pipe.net.denoiser.colour_embedding.mlp[-1].weight.abs().sum() > 0  # it learned
    masks = np.zeros((1, 4, 32, 32), np.float32)
    a = pipe(["white on black"], ["bounce in"], ["H^|i"], masks, steps=2, seed=3)
    assert np.array_equal(a, pipe(["white on black"], ["bounce in"], ["H^|i"], masks, steps=2, seed=3))
    assert not np.array_equal(a, pipe(["black on white"], ["bounce in"], ["H^|i"], masks, steps=2, seed=3))
