"""The space-time UNet denoiser on latents (KineTy Sec. 4, an SD-style UNet with temporal layers).

At each resolution:  ResNet block -> SpatialTransformer (static + zero-init word cross-attention)
-> TemporalTransformer (dynamic cross-attention, zero-init output).  Down path, a middle block, an
up path with skip connections.  Convolutions run per frame on (B*T, C, h, w).

Image mode (stage 1, ``dynamic is None``): frames are independent images conditioned on the static
caption only; the temporal layers and the word branch are skipped.  Video mode (stage 2) runs all
three branches; because the word branch and the temporal output start at zero, the video model's
first output equals the image model's (tested).

Glyph-layout conditioning (beyond KineTy): optional 2 extra input channels per frame, the glyph mask
at latent resolution and a flag saying whether a mask is given, so one model works with and without.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from kinetype.model.attention import SpatialTransformer, TemporalTransformer
from kinetype.model.config import DenoiserConfig

GLYPH_CHANNELS = 2  # mask coverage, mask-present flag

Caption = tuple[torch.Tensor, torch.Tensor]  # (embeddings (B, L, D), mask (B, L) bool)


class Layer(nn.Module):
    """One UNet layer: ResNet block, then (optionally) the spatial and temporal transformers."""

    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, cfg: DenoiserConfig, attention: bool):
        super().__init__()
        from diffusers.models.resnet import ResnetBlock2D

        self.resnet = ResnetBlock2D(in_channels=in_ch, out_channels=out_ch, temb_channels=temb_dim, groups=cfg.norm_groups)
        heads = max(1, out_ch // cfg.head_dim)
        self.spatial = SpatialTransformer(out_ch, heads, cfg.context_dim, cfg.norm_groups, cfg.ff_mult) if attention else None
        self.temporal = (
            TemporalTransformer(out_ch, heads, cfg.context_dim, cfg.norm_groups, cfg.max_frames, cfg.ff_mult)
            if attention
            else None
        )

    def forward(self, x, temb, frames: int, static: Caption, dynamic: Caption | None, word: Caption | None):
        x = self.resnet(x, temb)
        if self.spatial is not None:
            x = self.spatial(x, frames, static, word)
        if self.temporal is not None and dynamic is not None:
            x = self.temporal(x, frames, dynamic)
        return x


class Upsample(nn.Module):
    """2x nearest-neighbour upsampling, then a 3x3 convolution (as in SD's UNet)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class SpaceTimeUNet(nn.Module):
    def __init__(self, cfg: DenoiserConfig, latent_channels: int):
        super().__init__()
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps

        self.cfg = cfg
        self.latent_channels = latent_channels
        self.gradient_checkpointing = False
        ch = list(cfg.channels)
        attn = list(cfg.attention_levels) + [False] * (len(ch) - len(cfg.attention_levels))
        temb_dim = ch[0] * 4

        # Timestep t in [0, 1] is embedded as 1000 t, the scale SD's sinusoidal embedding expects.
        self.t_proj = Timesteps(ch[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.t_embedder = TimestepEmbedding(ch[0], temb_dim)
        in_ch = latent_channels + (GLYPH_CHANNELS if cfg.glyph_channels else 0)
        self.x_embedder = nn.Conv2d(in_ch, ch[0], 3, padding=1)

        # Down path: layers_per_level layers per level, then a 2x downsample (not after the last level).
        self.down = nn.ModuleList()
        self.downsamplers = nn.ModuleList()
        skip_ch = [ch[0]]
        cur = ch[0]
        for i, c in enumerate(ch):
            for _ in range(cfg.layers_per_level):
                self.down.append(Layer(cur, c, temb_dim, cfg, attn[i]))
                cur = c
                skip_ch.append(cur)
            if i < len(ch) - 1:
                self.downsamplers.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skip_ch.append(cur)
        self.mid = nn.ModuleList(
            [Layer(cur, cur, temb_dim, cfg, attention=True), Layer(cur, cur, temb_dim, cfg, attention=False)]
        )
        # Up path mirrors the down path; each layer concatenates one skip (as in SD's UNet).
        self.up = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            for _ in range(cfg.layers_per_level + 1):
                self.up.append(Layer(cur + skip_ch.pop(), c, temb_dim, cfg, attn[i]))
                cur = c
            if i > 0:
                self.upsamplers.append(Upsample(cur))
        self.norm_out = nn.GroupNorm(cfg.norm_groups, cur, eps=1e-6)
        self.final_layer = nn.Conv2d(cur, latent_channels, 3, padding=1)

    # -- parameter groups by role (the trainer picks which ones train in each stage) ------------
    def video_parameters(self) -> list[nn.Parameter]:
        """Temporal transformers and the word branch: new in the video stage."""
        out = []
        for name, p in self.named_parameters():
            if ".temporal." in name or ".word_attn." in name or ".word_out." in name:
                out.append(p)
        return out

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C, h, w) noisy latents
        t: torch.Tensor,  # (B,) time in [0, 1]
        static: Caption,
        dynamic: Caption | None = None,
        word: Caption | None = None,
        glyph: torch.Tensor | None = None,  # (B, T, h, w) mask coverage, or None = no glyph layout
        glyph_present: torch.Tensor | None = None,  # (B,) 1 = use this sample's glyph, 0 = dropped
    ) -> torch.Tensor:
        b, frames = x.shape[:2]
        h = x.flatten(0, 1)  # (B*T, C, h, w)
        if self.cfg.glyph_channels:
            if glyph is None:
                g = h.new_zeros(h.shape[0], GLYPH_CHANNELS, *h.shape[-2:])
            else:
                m = glyph.flatten(0, 1)[:, None].to(h.dtype)  # (B*T, 1, h, w)
                flag = torch.ones_like(m)
                if glyph_present is not None:
                    flag = flag * glyph_present.to(h.dtype).repeat_interleave(frames).view(-1, 1, 1, 1)
                g = torch.cat([m * flag, flag], dim=1)
            h = torch.cat([h, g], dim=1)
        temb = self.t_embedder(self.t_proj(t * 1000.0).to(x.dtype))  # (B, D)
        temb = temb.repeat_interleave(frames, dim=0)  # (B*T, D)
        if word is not None and dynamic is None:
            raise ValueError("the word caption is a video-stage input: give the dynamic caption too")

        h = self.x_embedder(h)
        skips = [h]
        di = 0
        for i, _ in enumerate(self.cfg.channels):
            for _ in range(self.cfg.layers_per_level):
                h = self._run(self.down[di], h, temb, frames, static, dynamic, word)
                di += 1
                skips.append(h)
            if i < len(self.downsamplers):
                h = self.downsamplers[i](h)
                skips.append(h)
        for layer in self.mid:
            h = self._run(layer, h, temb, frames, static, dynamic, word)
        ui = 0
        for i in range(len(self.cfg.channels)):
            for _ in range(self.cfg.layers_per_level + 1):
                h = self._run(self.up[ui], torch.cat([h, skips.pop()], dim=1), temb, frames, static, dynamic, word)
                ui += 1
            if i < len(self.upsamplers):
                h = self.upsamplers[i](h)
        h = self.final_layer(F.silu(self.norm_out(h)))
        return h.unflatten(0, (b, frames))

    def _run(self, layer: Layer, h, temb, frames, static, dynamic, word):
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(layer, h, temb, frames, static, dynamic, word, use_reentrant=False)
        return layer(h, temb, frames, static, dynamic, word)
