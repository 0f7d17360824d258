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
