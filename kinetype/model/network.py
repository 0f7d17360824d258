"""The trainable network: caption encoder + space-time UNet, one module (what DDP wraps).

``forward`` takes caption strings so every parameter that trains is reached inside DDP's forward;
samplers call :meth:`encode` once and :meth:`denoise` per step.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from kinetype.model.config import ModelConfig
from kinetype.model.denoiser import Caption, SpaceTimeUNet
from kinetype.model.text import build_text_encoder


class KineTyNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.text_encoder = build_text_encoder(cfg.text)
        # Cross-attention width = the caption encoder's width: resolved into a new config (what the
        # pipeline folder saves); the caller's ``cfg`` is left as it was given.
        self.cfg = replace(cfg, denoiser=replace(cfg.denoiser, context_dim=self.text_encoder.dim))
        self.unet = SpaceTimeUNet(self.cfg.denoiser, cfg.autoencoder.latent_channels)

    def encode(self, captions: list[str]) -> Caption:
        return self.text_encoder(captions)

    def denoise(self, x, t, static: Caption, dynamic: Caption | None = None, word: Caption | None = None,
                glyph=None, glyph_present=None):
        return self.unet(x, t, static, dynamic, word, glyph, glyph_present)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C, h, w) noisy latents
        t: torch.Tensor,  # (B,)
        static: list[str],
        dynamic: list[str] | None = None,
        word: list[str] | None = None,
        glyph: torch.Tensor | None = None,  # (B, T, h, w)
        glyph_present: torch.Tensor | None = None,  # (B,)
    ) -> torch.Tensor:
        # One encoder shared by the three captions (as in KineTy), one pass per caption kind: each
        # caption's padding then depends only on its own kind, so adding the dynamic and word
        # captions cannot change the static context by a rounding error.
        s_ctx = self.encode(static)
        d_ctx = self.encode(dynamic) if dynamic is not None else None
        w_ctx = self.encode(word) if word is not None else None
        return self.unet(x, t, s_ctx, d_ctx, w_ctx, glyph, glyph_present)

    def video_parameters(self) -> list[nn.Parameter]:
        return self.unet.video_parameters()
