"""The autoencoder's decoder fine-tune: a step moves the decoder and leaves the latents alone."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from kinetype.model import Autoencoder  # noqa: E402
from kinetype.model.config import AutoencoderConfig  # noqa: E402


@pytest.mark.parametrize("kind", ["glyph", "kl"])
def test_a_frozen_encoder_keeps_the_latents_while_the_decoder_learns(kind):
    if kind == "kl":
        pytest.importorskip("diffusers")
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(kind=kind, block_out_channels=(8, 16), norm_num_groups=4, latent_channels=4))
    frames = torch.rand(2, 3, 32, 32) * 2 - 1  # (N, 3, H, W)
    masks = (torch.rand(2, 32, 32) > 0.7).float()
    video, vmasks = frames[None], masks[None]  # one clip of two frames
    with torch.no_grad():
        latents, decoded = ae.encode(video, vmasks), ae.decode(ae.encode(video, vmasks), vmasks)
    ae.freeze_encoder()
    opt = torch.optim.SGD([p for p in ae.parameters() if p.requires_grad], lr=0.1)
    ae.reconstruction_loss(frames, masks, torch.Generator().manual_seed(0))["loss"].backward()
    opt.step()
    with torch.no_grad():
        assert torch.equal(ae.encode(video, vmasks), latents)
        assert not torch.allclose(ae.decode(latents, vmasks), decoded)


def test_the_edge_loss_charges_a_blurred_letter_and_ignores_the_background_away_from_it():
    from kinetype.model.autoencoder import EDGE_BAND, edge_loss

    frames = -torch.ones(1, 3, 32, 32)  # (N, 3, H, W): a white bar on black
    frames[..., 10:22, 14:17] = 1.0
    masks = (frames[:, 0] > 0).float()  # (N, H, W)
    blurred = torch.nn.functional.avg_pool2d(frames, 3, stride=1, padding=1, count_include_pad=False)
    assert edge_loss(frames, frames, masks) == 0
    assert edge_loss(blurred, frames, masks) > 0.2
    # A sharp copy shifted by a pixel misses the edges, too.
    assert edge_loss(frames.roll(1, dims=-1), frames, masks) > 0.2
    # Texture drawn beyond the band around the letter costs nothing.
    textured = frames.clone()
    textured[..., :, : 14 - EDGE_BAND - 1] = torch.rand(1, 3, 32, 14 - EDGE_BAND - 1)
    assert edge_loss(textured, frames, masks) == 0


def test_the_edge_weight_adds_its_term_to_the_reconstruction_loss():
    torch.manual_seed(0)
    frames = torch.rand(2, 3, 32, 32) * 2 - 1
    masks = (torch.rand(2, 32, 32) > 0.7).float()
    losses = {}
    for weight in (0.0, 2.0):
        torch.manual_seed(0)
        ae = Autoencoder(AutoencoderConfig(kind="glyph", block_out_channels=(8, 16), norm_num_groups=4, edge_weight=weight))
        losses[weight] = ae.reconstruction_loss(frames, masks, torch.Generator().manual_seed(0))
    assert "edge_l1" not in losses[0.0] and losses[2.0]["edge_l1"] > 0
    torch.testing.assert_close(losses[2.0]["loss"], losses[0.0]["loss"] + 2.0 * losses[2.0]["edge_l1"])
