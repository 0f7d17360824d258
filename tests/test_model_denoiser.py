"""The space-time UNet and its conditioning: shapes, zero-initialised branches, gradients to every caption."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model import Autoencoder, KineTyNet  # noqa: E402
from kinetype.model.losses import DiffusionLoss, LossConfig, dilate, glyph_loss, motion_loss  # noqa: E402
from kinetype.model.text import ByteTextEncoder, tokenize_bytes  # noqa: E402
from kinetype.train.config import PRESETS  # noqa: E402
from kinetype.train.data import SyntheticClips, collate  # noqa: E402

torch.set_num_threads(1)  # the CPU is shared; OpenMP spinning on 2 threads is slower here

CAPS = dict(static=["gold letters on navy", "white on black"], dynamic=["letters drop in", "letters spin"],
            word=["H^|i", "o|k"])


def tiny_net(seed: int = 0) -> KineTyNet:
    torch.manual_seed(seed)
    cfg = copy.deepcopy(PRESETS["tiny"].model)
    return KineTyNet(cfg)


def test_shapes_and_image_mode_frames_are_independent():
    net = tiny_net().eval()
    x = torch.randn(2, 4, 4, 8, 8)
    t = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        out = net(x, t, CAPS["static"], CAPS["dynamic"], CAPS["word"])
        image = net(x, t, CAPS["static"])
        one = net(x[:, 2:3], t, CAPS["static"])
    assert out.shape == x.shape
    torch.testing.assert_close(image[:, 2:3], one, atol=1e-5, rtol=1e-5)


def test_zero_initialised_branches_make_the_video_model_start_as_the_image_model():
    """KineTy's zero-convolution word branch and the zero-init temporal output: adding the video inputs
    changes nothing until they are trained, even after the image weights moved (stage 1 training)."""
    net = tiny_net().eval()
    video = {id(p) for p in net.video_parameters()}
    with torch.no_grad():  # stand-in for stage-1 training: every image parameter moves
        for p in net.parameters():
            if id(p) not in video:
                p.add_(torch.randn_like(p) * 0.01)
    x, t = torch.randn(2, 4, 4, 8, 8), torch.tensor([0.2, 0.9])
    glyph = torch.rand(2, 4, 8, 8)
    with torch.no_grad():
        image = net(x, t, CAPS["static"], glyph=glyph)
        video_out = net(x, t, CAPS["static"], CAPS["dynamic"], CAPS["word"], glyph=glyph)
    assert torch.equal(image, video_out)


def test_all_three_caption_branches_get_gradients_in_the_video_stage(tmp_path):
    torch.manual_seed(0)
    net = tiny_net()
    ae = Autoencoder(PRESETS["tiny"].model.autoencoder).requires_grad_(False)
    batch = collate([SyntheticClips(size_px=32, num_frames=4).clip(i) for i in range(2)])
    loss_fn = DiffusionLoss(LossConfig(uncond_prob=0.0, glyph_drop_prob=0.0, motion_weight=0.1), "flow", ae, video=True)

    # At initialisation the zero-initialised output layers are what learns first.
    terms = loss_fn(net, batch, torch.Generator().manual_seed(0))
    terms["loss"].backward()
    assert set(terms) >= {"denoise", "glyph", "motion", "loss"}
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert grads["unet.mid.0.spatial.word_out.weight"].abs().sum() > 0
    assert grads["unet.mid.0.temporal.proj_out.weight"].abs().sum() > 0

    # Once they are non-zero (after a first step), each caption's cross-attention gets gradients.
    with torch.no_grad():
        for n, p in net.named_parameters():
            if n.endswith(("word_out.weight", "temporal.proj_out.weight")):
                p.normal_(0, 0.02)
    net.zero_grad()
    loss_fn(net, batch, torch.Generator().manual_seed(0))["loss"].backward()
    for branch in ("spatial.static_attn", "spatial.word_attn", "temporal.dynamic_attn"):
        g = dict(net.named_parameters())[f"unet.mid.0.{branch}.to_k.weight"].grad
        assert g is not None and g.abs().sum() > 0, branch
    assert all(p.grad is not None for p in net.text_encoder.parameters())


def test_glyph_channels_dropped_equals_no_glyph():
    net = tiny_net().eval()
    x, t = torch.randn(2, 2, 4, 8, 8), torch.tensor([0.5, 0.5])
    glyph = torch.rand(2, 2, 8, 8)
    with torch.no_grad():
        none = net(x, t, CAPS["static"])
        dropped = net(x, t, CAPS["static"], glyph=glyph, glyph_present=torch.zeros(2))
        given = net(x, t, CAPS["static"], glyph=glyph)
    assert torch.equal(none, dropped)
    assert not torch.allclose(none, given)


def test_byte_tokenizer_has_no_out_of_vocabulary_failure():
    ids, mask = tokenize_bytes(["H^|e|l|l|o", "Ünïcode ✓", ""], max_tokens=16)
    assert ids.shape == (3, 15) and mask.sum(1).tolist() == [12, 15, 2]  # BOS + bytes + EOS
    enc = ByteTextEncoder(PRESETS["tiny"].model.text)
    emb, m = enc(["H^|e|l|l|o", "Ünïcode ✓"])
    assert emb.shape[:2] == m.shape and torch.isfinite(emb).all()


def test_glyph_loss_uses_each_frames_own_dilated_mask():
    masks = torch.zeros(1, 2, 8, 8)
    masks[0, 0, 2, 2] = 1  # frame 0: one pixel; frame 1: empty
    assert dilate(masks[0], 1)[0].sum() == 9
    video = torch.zeros(1, 2, 3, 8, 8)
    decoded = torch.zeros(1, 2, 3, 8, 8)
    decoded[0, 1] = 1.0  # all wrong in frame 1, whose mask is empty -> no loss
    decode = lambda z, masks=None, present=None: z  # noqa: E731 identity "decoder": latents are frames here
    loss = glyph_loss(decode, decoded, video, masks, torch.tensor([True]), 2, 1, torch.Generator().manual_seed(0))
    assert loss == 0
    decoded[0, 0, :, 3, 3] = 1.0  # inside frame 0's dilated mask
    loss = glyph_loss(decode, decoded, video, masks, torch.tensor([True]), 2, 1, torch.Generator().manual_seed(0))
    assert loss == pytest.approx(1 / 9)


def test_motion_loss_is_zero_for_matching_frame_differences():
    x0 = torch.randn(1, 4, 4, 8, 8)
    assert motion_loss(x0 + 3.0, x0) < 1e-10  # a constant offset has the same motion
    assert motion_loss(x0.flip(1), x0) > 0
