"""Named model sizes (as DiT's model dict): the architecture of each preset, and nothing about how
it trains. :mod:`kinetype.train.config` composes these with data and optimiser settings."""

from __future__ import annotations

import copy

from kinetype.model.config import AutoencoderConfig, DenoiserConfig, ModelConfig, TextConfig

_PRESETS: dict[str, ModelConfig] = {
    # Tests and quick checks: 32 px, a few channels.
    "tiny": ModelConfig(
        autoencoder=AutoencoderConfig(block_out_channels=(16, 32, 32), norm_num_groups=8),
        text=TextConfig(width=64, depth=2, heads=2, max_tokens=96),
        denoiser=DenoiserConfig(channels=(32, 64), head_dim=16, norm_groups=8, max_frames=32),
    ),
    # A CPU (2 cores), 128 px. The glyph autoencoder (decoder sees the glyph layout) at 8x gives
    # 16x16x4 latents: the denoiser's attention has 256 tokens a frame, and letter edges stay crisp.
    "cpu": ModelConfig(
        autoencoder=AutoencoderConfig(kind="glyph", block_out_channels=(16, 32, 64, 64), norm_num_groups=8,
                                      latent_channels=4, mask_weight=4.0, kl_weight=1e-6),
        text=TextConfig(width=128, depth=2, heads=4, max_tokens=256),  # captions run to ~170 bytes
        denoiser=DenoiserConfig(channels=(64, 128, 128), layers_per_level=1, attention_levels=(True, True, True),
                                head_dim=32, norm_groups=16, max_frames=32),
    ),
    # One GPU (<= 24 GB): 128 px, 16x16 latents.
    "small": ModelConfig(
        autoencoder=AutoencoderConfig(kind="glyph", block_out_channels=(64, 128, 256, 256), norm_num_groups=32),
        text=TextConfig(width=384, depth=4, heads=6, max_tokens=256),
        denoiser=DenoiserConfig(channels=(128, 256, 384), layers_per_level=2, attention_levels=(True, True, True),
                                head_dim=64, norm_groups=32),
    ),
    # Several GPUs: 256 px (32x32 latents) with a mid-sized UNet.
    "base": ModelConfig(
        autoencoder=AutoencoderConfig(block_out_channels=(128, 256, 512, 512), norm_num_groups=32),
        text=TextConfig(width=512, depth=6, heads=8, max_tokens=160),
        denoiser=DenoiserConfig(channels=(192, 384, 576, 768), layers_per_level=2,
                                attention_levels=(False, True, True, True), head_dim=64, norm_groups=32),
    ),
    # KineTy's scale: an SD-1.5-sized UNet (320/640/1280/1280, 2 layers, 8 heads of 40 -> here head
    # dim 64), a frozen CLIP text encoder and SD's autoencoder from local folders (--clip, --autoencoder).
    "paper": ModelConfig(
        autoencoder=AutoencoderConfig(block_out_channels=(128, 256, 512, 512), norm_num_groups=32, scaling_factor=0.18215),
        text=TextConfig(kind="clip"),
        denoiser=DenoiserConfig(channels=(320, 640, 1280, 1280), layers_per_level=2,
                                attention_levels=(True, True, True, False), head_dim=64, norm_groups=32),
        objective="eps",
    ),
}

MODEL_PRESETS: tuple[str, ...] = tuple(_PRESETS)


def model_preset(name: str) -> ModelConfig:
    """A fresh copy of the named preset's model config: the caller may change it freely."""
    return copy.deepcopy(_PRESETS[name])
