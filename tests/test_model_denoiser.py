"""The space-time UNet and its conditioning: shapes, zero-initialised branches, gradients to every caption."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model import KineTyNet  # noqa: E402
from kinetype.model.losses import dilate, glyph_loss, motion_loss  # noqa: E402
from kinetype.model.text import ByteTextEncoder, ByteTokenizer  # noqa: E402
from kinetype.train.config import PRESETS  # noqa: E402

torch.set_num_threads(1)  # the CPU is shared; OpenMP spinning on 2 threads is slower here

CAPS = dict(static=["gold letters on navy", "white on black"], dynamic=["letters drop in", "letters spin"],
            word=["H^|i", "o|k"])


def tiny_net(seed: int = 0) -> KineTyNet:
    torch.manual_seed(seed)
    cfg = copy.deepcopy(PRESETS["tiny"].model)
    return KineTyNet(cfg)


def tokens(net, kind):
    return net.tokenize(CAPS[kind])


def test_shapes_and_image_mode_frames_are_independent():
    net = tiny_net().eval()
    x = torch.randn(2, 4, 4, 8, 8)
    t = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        out = net(x, t, tokens(net, "static"), tokens(net, "dynamic"), tokens(net, "word"))
        image = net(x, t, tokens(net, "static"))
        one = net(x[:, 2:3], t, tokens(net, "static"))
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
        image = net(x, t, tokens(net, "static"), glyph=glyph)
        video_out = net(x, t, tokens(net, "static"), tokens(net, "dynamic"), tokens(net, "word"), glyph=glyph)
    assert torch.equal(image, video_out)


def test_all_three_caption_branches_get_gradients_in_the_video_stage():
    torch.manual_seed(0)
    net = tiny_net()
    x, t = torch.randn(2, 4, 4, 8, 8), torch.tensor([0.3, 0.6])

    def loss():
        out = net(x, t, tokens(net, "static"), tokens(net, "dynamic"), tokens(net, "word"), glyph=torch.rand(2, 4, 8, 8))
        return out.square().mean()

    # At initialisation the zero-initialised output layers are what learns first.
    loss().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert grads["denoiser.mid.0.spatial.word_out.weight"].abs().sum() > 0
    assert grads["denoiser.mid.0.temporal.proj_out.weight"].abs().sum() > 0

    # Once they are non-zero (after a first step), each caption's cross-attention gets gradients.
    with torch.no_grad():
        for n, p in net.named_parameters():
            if n.endswith(("word_out.weight", "temporal.proj_out.weight")):
                p.normal_(0, 0.02)
    net.zero_grad()
    loss().backward()
    for branch in ("spatial.static_attn", "spatial.word_attn", "temporal.dynamic_attn"):
        g = dict(net.named_parameters())[f"denoiser.mid.0.{branch}.to_k.weight"].grad
        assert g is not None and g.abs().sum() > 0, branch
    assert all(p.grad is not None for p in net.text_encoder.parameters())


def test_glyph_channels_dropped_equals_no_glyph():
    net = tiny_net().eval()
    x, t = torch.randn(2, 2, 4, 8, 8), torch.tensor([0.5, 0.5])
    glyph = torch.rand(2, 2, 8, 8)
    with torch.no_grad():
        none = net(x, t, tokens(net, "static"))
        dropped = net(x, t, tokens(net, "static"), glyph=glyph, glyph_present=torch.zeros(2))
        given = net(x, t, tokens(net, "static"), glyph=glyph)
    assert torch.equal(none, dropped)
    assert not torch.allclose(none, given)


def test_byte_tokenizer_has_no_out_of_vocabulary_failure_and_one_length():
    tokens = ByteTokenizer(16)(["H^|e|l|l|o", "Ünïcode ✓", "", "x" * 40])
    ids, mask = tokens.ids, tokens.mask
    assert ids.shape == (4, 16) and mask.sum(1).tolist() == [12, 15, 2, 16]  # BOS + bytes + EOS, cut at 16
    enc = ByteTextEncoder(PRESETS["tiny"].model.text)
    emb, m = enc(enc.tokenizer()(["H^|e|l|l|o", "Ünïcode ✓"]))
    assert emb.shape[:2] == m.shape == (2, PRESETS["tiny"].model.text.max_tokens) and torch.isfinite(emb).all()


def test_three_captions_in_one_pass_equal_three_passes():
    net = tiny_net().eval()
    with torch.no_grad():
        together = net.encode(tokens(net, "static"), tokens(net, "dynamic"), tokens(net, "word"))
        for kind, caption in zip(("static", "dynamic", "word"), together):
            alone = net.text_encoder(tokens(net, kind))
            torch.testing.assert_close(caption.embeddings, alone.embeddings, atol=1e-6, rtol=1e-6)
            assert torch.equal(caption.mask, alone.mask)


def glyph(decoded, clean, masks, t, **kw):
    decode = lambda z, masks=None, present=None: z  # noqa: E731 identity "decoder": latents are frames here
    args = dict(clips=len(t), frames=2, max_t=0.8, dilate_px=1) | kw
    return glyph_loss(decode, decoded, clean, masks, t, torch.ones(len(t)), torch.Generator().manual_seed(0), **args)


def test_glyph_loss_uses_each_frames_own_dilated_mask():
    masks = torch.zeros(1, 2, 8, 8)
    masks[0, 0, 2, 2] = 1  # frame 0: one pixel; frame 1: empty
    assert dilate(masks[0], 1)[0].sum() == 9
    clean = torch.zeros(1, 2, 3, 8, 8)
    decoded = torch.zeros(1, 2, 3, 8, 8)
    decoded[0, 1] = 1.0  # all wrong in frame 1, whose mask is empty -> no loss
    assert glyph(decoded, clean, masks, torch.tensor([0.5])) == 0
    decoded[0, 0, :, 3, 3] = 1.0  # inside frame 0's dilated mask
    assert glyph(decoded, clean, masks, torch.tensor([0.5])) == pytest.approx(1 / 9)
    assert glyph(decoded, clean, masks, torch.tensor([0.9])) == 0  # too noisy: no glyph loss


def test_glyph_loss_takes_its_clips_from_the_less_noisy_ones():
    """Of 4 clips, 2 get the loss: always the 2 with t <= max_t when there are 2."""
    masks = torch.ones(4, 2, 8, 8)
    clean = torch.zeros(4, 2, 3, 8, 8)
    decoded = torch.arange(1.0, 5.0).view(4, 1, 1, 1, 1).expand(4, 2, 3, 8, 8)  # clip k is off by k + 1
    t = torch.tensor([0.9, 0.3, 0.95, 0.5])  # clips 1 and 3 are below max_t
    for seed in range(5):
        loss = glyph_loss(lambda z, m=None, p=None: z, decoded, clean, masks, t, torch.ones(4),
                          torch.Generator().manual_seed(seed), clips=2, frames=1, max_t=0.8, dilate_px=0)
        assert loss == pytest.approx((2 + 4) / 2)


def test_motion_loss_is_zero_for_matching_frame_differences():
    x0 = torch.randn(1, 4, 4, 8, 8)
    assert motion_loss(x0 + 3.0, x0) < 1e-10  # a constant offset has the same motion
    assert motion_loss(x0.flip(1), x0) > 0
