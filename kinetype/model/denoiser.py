"""The denoiser: a space-time UNet on latents (KineTy Sec. 4, an SD-style UNet with temporal layers).

Every layer is a ResNet block -> SpatialTransformer (static + zero-init word cross-attention) ->
TemporalTransformer (dynamic cross-attention, zero-init output). A level is one module (as
diffusers' ``CrossAttnDownBlock3D``): a :class:`DownLevel` runs its layers and returns its skips, an
:class:`UpLevel` takes them back, so :meth:`Denoiser.forward` is a short loop over levels.
Convolutions run per frame on (B*T, C, h, w).

Image mode (stage 1, no dynamic caption): frames are independent images conditioned on the static
caption only; the temporal layers and the word branch are skipped. Video mode (stage 2) runs all
three branches; because the word branch and the temporal output start at zero, the video model's
first output equals the image model's (tested).

Glyph-layout conditioning (beyond KineTy): optional 2 extra input channels per frame, the glyph mask
at latent resolution and a flag saying whether a mask is given, so one model works with and without.
Given frames (DynamiCrafter's visual-detail stream, :mod:`kinetype.model.frames`): optional C + 1 more,
the latents of the frames a clip must pass through and a flag per frame.

An interpolation model (``inbetweens`` = n > 0, :mod:`kinetype.model.interpolation`) is the same UNet
whose frames are the gaps between keyframes: n latents stacked on channels in and out, n glyph masks,
and the two keyframes (2·C + 1 planes) as its given frames; ``temporal_conv`` adds FusionFrames'
temporal convolution after each ResNet block.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import ResnetBlock2D
from torch import nn
from torch.utils.checkpoint import checkpoint

from kinetype.model.attention import SpatialTransformer, TemporalTransformer
from kinetype.model.colours import ColourEmbedding
from kinetype.model.config import DenoiserConfig
from kinetype.model.frames import Design, DesignEncoder, Given, design_context, given_planes, widen_input
from kinetype.model.text import Caption



class Context(NamedTuple):
    """What every layer is conditioned on besides the time: the encoded captions."""

    static: Caption
    dynamic: Caption | None = None  # None: image mode
    word: Caption | None = None
    design: Design | None = None  # the first given design's context tokens (design_context)
    colour: torch.Tensor | None = None  # (B, COLOUR_DIM) the static caption's named colours (kinetype.model.colours)


class Layer(nn.Module):
    """One UNet layer: ResNet block, then (optionally) the spatial and temporal transformers."""

    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, context_dim: int, cfg: DenoiserConfig, attention: bool):
        super().__init__()
        self.resnet = ResnetBlock2D(in_channels=in_ch, out_channels=out_ch, temb_channels=temb_dim, groups=cfg.norm_groups)
        heads = max(1, out_ch // cfg.head_dim)
        self.spatial = (SpatialTransformer(out_ch, heads, context_dim, cfg.norm_groups, cfg.ff_mult, cfg.design_context)
                        if attention else None)
        self.temporal = (TemporalTransformer(out_ch, heads, context_dim, cfg.norm_groups, cfg.max_frames, cfg.ff_mult)
                         if attention else None)
        self.temporal_conv = TemporalConv(out_ch, cfg.norm_groups) if cfg.temporal_conv else None
        self.checkpointing = False  # recompute activations in the backward pass (memory for time)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, frames: int, ctx: Context) -> torch.Tensor:
        if self.checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(self._forward, x, temb, frames, ctx, use_reentrant=False)
        return self._forward(x, temb, frames, ctx)

    def _forward(self, x, temb, frames: int, ctx: Context) -> torch.Tensor:
        x = self.resnet(x, temb)
        if self.temporal_conv is not None and ctx.dynamic is not None:
            x = self.temporal_conv(x, frames)
        if self.spatial is not None:
            x = self.spatial(x, frames, ctx.static, ctx.word, ctx.design)
        if self.temporal is not None and ctx.dynamic is not None:
            x = self.temporal(x, frames, ctx.dynamic)
        return x


class TemporalConv(nn.Module):
    """FusionFrames' temporal convolution: each latent cell's features convolved across frames
    (kernel 3, zero-padded at the clip's ends), added to the input; the output starts at zero."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.conv = nn.Conv1d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bt, c, h, w = x.shape  # (B*T, C, h, w)
        y = F.silu(self.norm(x)).unflatten(0, (bt // frames, frames))  # (B, T, C, h, w)
        y = y.permute(0, 3, 4, 2, 1).reshape(-1, c, frames)  # (B*h*w, C, T)
        y = self.conv(y).reshape(bt // frames, h, w, c, frames).permute(0, 4, 3, 1, 2)  # (B, T, C, h, w)
        return x + y.flatten(0, 1)


class DownLevel(nn.Module):
    """``layers`` layers at one resolution, then (but for the last level) a 2x strided convolution.
    Returns the output and the skips it leaves for the up path: one per layer and the downsample."""

    def __init__(self, in_ch: int, out_ch: int, layers: int, temb_dim: int, context_dim: int, cfg: DenoiserConfig,
                 attention: bool, downsample: bool):
        super().__init__()
        self.layers = nn.ModuleList(
            [Layer(in_ch if i == 0 else out_ch, out_ch, temb_dim, context_dim, cfg, attention) for i in range(layers)])
        self.downsample = nn.Conv2d(out_ch, out_ch, 3, stride=2, padding=1) if downsample else None
        self.skip_channels = [out_ch] * (layers + (1 if downsample else 0))

    def forward(self, h, temb, frames: int, ctx: Context) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for layer in self.layers:
            h = layer(h, temb, frames, ctx)
            skips.append(h)
        if self.downsample is not None:
            h = self.downsample(h)
            skips.append(h)
        return h, skips


class UpLevel(nn.Module):
    """The mirror of a DownLevel: each layer concatenates one skip (last in, first out, as SD's UNet),
    then (but for the top level) 2x nearest-neighbour upsampling and a 3x3 convolution."""

    def __init__(self, in_ch: int, out_ch: int, skip_channels: list[int], temb_dim: int, context_dim: int,
                 cfg: DenoiserConfig, attention: bool, upsample: bool):
        super().__init__()
        layers = []
        for skip in skip_channels:  # in the order they are taken back
            layers.append(Layer(in_ch + skip, out_ch, temb_dim, context_dim, cfg, attention))
            in_ch = out_ch
        self.layers = nn.ModuleList(layers)
        self.upsample = nn.Conv2d(out_ch, out_ch, 3, padding=1) if upsample else None

    def forward(self, h, skips: list[torch.Tensor], temb, frames: int, ctx: Context) -> torch.Tensor:
        for layer in self.layers:
            h = layer(torch.cat([h, skips.pop()], dim=1), temb, frames, ctx)
        if self.upsample is not None:
            h = self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return h


class Denoiser(nn.Module):
    """(noisy latents, time, captions, glyph layout) -> the objective's prediction, same shape as x."""

    def __init__(self, cfg: DenoiserConfig, latent_channels: int, context_dim: int):
        super().__init__()
        self.cfg, self.latent_channels, self.context_dim = cfg, latent_channels, context_dim
        ch = list(cfg.channels)
        attn = list(cfg.attention_levels) + [False] * (len(ch) - len(cfg.attention_levels))
        temb_dim = ch[0] * 4

        # Time t in [0, 1] is embedded as 1000 t, the scale SD's sinusoidal embedding expects.
        self.t_proj = Timesteps(ch[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.t_embedder = TimestepEmbedding(ch[0], temb_dim)
        # The caption's named colours, added to the time embedding as DiT adds its class label.
        self.colour_embedding = ColourEmbedding(temb_dim) if cfg.colour_embedding else None
        # Input planes per frame: the noisy latent(s), the glyph layout, the given frames. An
        # interpolation model's frame is a gap of n latents, its given frames the two keyframes.
        n = max(1, cfg.inbetweens)
        self.given_channels = 2 * latent_channels + 1 if cfg.inbetweens else latent_channels + 1 if cfg.given_frames else 0
        in_ch = n * latent_channels + (n + 1 if cfg.glyph_channels else 0) + self.given_channels
        self.x_embedder = nn.Conv2d(in_ch, ch[0], 3, padding=1)
        self.design_encoder = (DesignEncoder(latent_channels, context_dim, cfg.design_tokens)
                               if cfg.design_context else None)

        common = dict(temb_dim=temb_dim, context_dim=context_dim, cfg=cfg)
        self.down = nn.ModuleList()
        skips, cur = [ch[0]], ch[0]  # the embedded input is the first skip
        for i, c in enumerate(ch):
            level = DownLevel(cur, c, cfg.layers_per_level, attention=attn[i], downsample=i < len(ch) - 1, **common)
            self.down.append(level)
            skips += level.skip_channels
            cur = c
        self.mid = nn.ModuleList([Layer(cur, cur, temb_dim, context_dim, cfg, attention=True),
                                  Layer(cur, cur, temb_dim, context_dim, cfg, attention=False)])
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            taken = [skips.pop() for _ in range(cfg.layers_per_level + 1)]
            self.up.append(UpLevel(cur, c, taken, attention=attn[i], upsample=i > 0, **common))
            cur = c
        self.norm_out = nn.GroupNorm(cfg.norm_groups, cur, eps=1e-6)
        self.final_layer = nn.Conv2d(cur, n * latent_channels, 3, padding=1)

    @property
    def gradient_checkpointing(self) -> bool:
        return any(m.checkpointing for m in self.modules() if isinstance(m, Layer))

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, on: bool) -> None:
        for m in self.modules():
            if isinstance(m, Layer):
                m.checkpointing = on

    def add_given_frames(self, context: bool = False, tokens: int | None = None) -> None:
        """Give a trained denoiser the given-frame planes (new input weights at zero) and, with
        ``context``, the design context stream (gates at zero): its output is unchanged until it
        trains with them."""
        if self.cfg.inbetweens:
            raise ValueError("an interpolation model's given frames are its keyframes")
        if not self.cfg.given_frames:
            self.x_embedder = widen_input(self.x_embedder, self.latent_channels + 1)
            self.cfg = replace(self.cfg, given_frames=True)
            self.given_channels = self.latent_channels + 1
        if context and not self.cfg.design_context:
            self.cfg = replace(self.cfg, design_tokens=tokens or self.cfg.design_tokens)
            ref = self.x_embedder.weight
            self.design_encoder = DesignEncoder(self.latent_channels, self.context_dim,
                                                self.cfg.design_tokens).to(ref.device, ref.dtype)
            for m in self.modules():
                if isinstance(m, SpatialTransformer):
                    m.add_design(self.context_dim)
            self.cfg = replace(self.cfg, design_context=True)

    def add_colour_embedding(self) -> None:
        """Give a trained denoiser the colour embedding (output zero at start: unchanged until it trains)."""
        if self.colour_embedding is None:
            ref = self.x_embedder.weight
            self.colour_embedding = ColourEmbedding(self.t_embedder.linear_2.out_features).to(ref.device, ref.dtype)
            self.cfg = replace(self.cfg, colour_embedding=True)

    def video_parameters(self) -> list[nn.Parameter]:
        """Temporal transformers, the word branch and the design context: new in the video stage."""
        return [p for name, p in self.named_parameters()
                if ".temporal." in name or ".temporal_conv." in name or ".word_attn." in name or ".word_out." in name
                or ".design_" in name or name.startswith("design_encoder.")]

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C, h, w) noisy latents; an interpolation model's: (B, K, n*C, h, w)
        t: torch.Tensor,  # (B,) time in [0, 1]
        ctx: Context,
        glyph: torch.Tensor | None = None,  # (B, T, h, w) mask coverage ((B, K, n, h, w)), or None = no layout
        glyph_present: torch.Tensor | None = None,  # (B,) 1 = use this sample's glyph, 0 = dropped
        given: Given | None = None,  # frames the clip passes through, or None = none
    ) -> torch.Tensor:
        b, frames = x.shape[:2]
        if ctx.word is not None and ctx.dynamic is None:
            raise ValueError("the word caption is a video-stage input: give the dynamic caption too")
        if self.cfg.inbetweens and given is None:
            raise ValueError("an interpolation model needs the keyframes on either side of each gap (given)")
        h = x.flatten(0, 1)  # (B*T, C, h, w)
        if self.cfg.glyph_channels:
            h = torch.cat([h, glyph_planes(glyph, glyph_present, h, max(1, self.cfg.inbetweens))], dim=1)
        if self.given_channels:
            h = torch.cat([h, given_planes(given, h, self.given_channels - 1)], dim=1)
        if self.design_encoder is not None:
            ctx = ctx._replace(design=design_context(self.design_encoder, given, b, x))
        temb = self.t_embedder(self.t_proj(t * 1000.0).to(x.dtype))  # (B, D)
        if self.colour_embedding is not None and ctx.colour is not None:
            temb = temb + self.colour_embedding(ctx.colour.to(temb.dtype))
        temb = temb.repeat_interleave(frames, dim=0)  # (B*T, D)

        h = self.x_embedder(h)
        skips = [h]
        for level in self.down:
            h, level_skips = level(h, temb, frames, ctx)
            skips += level_skips
        for layer in self.mid:
            h = layer(h, temb, frames, ctx)
        for level in self.up:
            h = level(h, skips, temb, frames, ctx)
        h = self.final_layer(F.silu(self.norm_out(h)))
        return h.unflatten(0, (b, frames))


def glyph_planes(glyph: torch.Tensor | None, present: torch.Tensor | None, like: torch.Tensor,
                 masks: int = 1) -> torch.Tensor:
    """(B*T, masks + 1, h, w): the glyph coverage of the frame's ``masks`` latents times the presence
    flag, and the flag (zeros without a layout). ``glyph``: (B, T, h, w), or (B, T, masks, h, w)."""
    if glyph is None:
        return like.new_zeros(like.shape[0], masks + 1, *like.shape[-2:])
    frames = glyph.shape[1]
    m = glyph.flatten(0, 1).to(like.dtype)
    m = m[:, None] if m.dim() == 3 else m  # (B*T, masks, h, w)
    flag = torch.ones_like(m[:, :1])
    if present is not None:
        flag = flag * present.to(like.dtype).repeat_interleave(frames).view(-1, 1, 1, 1)
    return torch.cat([m * flag, flag], dim=1)
