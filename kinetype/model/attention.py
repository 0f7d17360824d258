"""Attention blocks of the space-time UNet (all on torch SDPA: flash / memory-efficient kernels on CUDA).

- :class:`SpatialTransformer` — per frame: self-attention over pixels; cross-attention to the
  **static** caption; a second cross-attention to the **word** caption whose output passes a
  zero-initialised projection (KineTy Sec. 4.3, its "zero convolution" branch); optionally a third,
  to a given **design**'s context tokens, scaled by tanh of a gate that starts at zero
  (DynamiCrafter's gated dual cross-attention, :mod:`kinetype.model.frames`).
- :class:`TemporalTransformer` — per pixel: self-attention across frames with a sinusoidal frame
  position encoding; cross-attention to the **dynamic** caption (KineTy Sec. 4.2); zero-initialised
  output projection, so a freshly added temporal layer is the identity and the video model starts
  exactly as the image model.

Attention itself (:func:`attend`) is torch SDPA, except on the CPU in bfloat16: there torch's fused
CPU kernel is slow in the backward pass (measured on the `cpu` preset's video step, 2 x 12 frames:
its bf16 backward took 41% of the UNet's forward + backward; two plain bf16 matmuls with a float32
softmax make the whole step 1.4x faster, the image step 1.3x). In float32 and on CUDA the fused
kernels win and are kept.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kinetype.model.text import Caption


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over (N, h, S, d) queries and (N, h, L, d) keys/values; ``mask``
    broadcasts to (N, h, S, L), True = attend."""
    if q.device.type != "cpu" or q.dtype != torch.bfloat16:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = ((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)).float()  # (N, h, S, L); scaled on the smaller q
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1).to(v.dtype) @ v


class Attention(nn.Module):
    """Multi-head attention; ``context_repeat`` shares one context row across that many query rows.

    A caption is projected once per clip (B, L, C). Instead of copying its keys and values to each of
    the B*T frames (spatial) or B*H*W pixels (temporal), the r = ``context_repeat`` query rows of a
    clip are folded into one longer query sequence (B, r*S, C): the same output, no copies.
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,  # (N, S, C) queries
        context: torch.Tensor | None = None,  # (N / context_repeat, L, Cc); None = self-attention
        context_mask: torch.Tensor | None = None,  # (N / context_repeat, L) bool, True = attend
        context_repeat: int = 1,
        map_sink: list[torch.Tensor] | None = None,  # append the map here: (N, h, S, S), or (B, h, r*S, L) across
    ) -> torch.Tensor:
        n, s, c = x.shape
        h, d = self.heads, c // self.heads
        if context is None:
            q, k, v = [f(x).view(n, s, h, d).transpose(1, 2) for f in (self.to_q, self.to_k, self.to_v)]  # (N, h, S, d)
            if map_sink is None:
                out = attend(q, k, v)
            else:  # the map itself is wanted (a loss on it): no fused kernel, which never forms it
                probs = ((q * d**-0.5) @ k.transpose(-1, -2)).float().softmax(-1)  # (N, h, S, S)
                map_sink.append(probs)
                out = probs.to(v.dtype) @ v
            return self.to_out(out.transpose(1, 2).reshape(n, s, c))
        b, l = context.shape[:2]
        # Rows n = b * r + j belong to clip b: (N, S, C) -> (B, r*S, C) is a view.
        q = self.to_q(x).reshape(b, context_repeat * s, h, d).transpose(1, 2)  # (B, h, r*S, d)
        k = self.to_k(context).view(b, l, h, d).transpose(1, 2)  # (B, h, L, d)
        v = self.to_v(context).view(b, l, h, d).transpose(1, 2)
        mask = None if context_mask is None else context_mask[:, None, None, :]  # (B, 1, 1, L)
        if map_sink is None:
            out = attend(q, k, v, mask)  # (B, h, r*S, d)
        else:
            scores = ((q * d**-0.5) @ k.transpose(-1, -2)).float()  # (B, h, r*S, L)
            probs = (scores if mask is None else scores.masked_fill(~mask, float("-inf"))).softmax(-1)
            map_sink.append(probs)
            out = probs.to(v.dtype) @ v
        return self.to_out(out.transpose(1, 2).reshape(n, s, c))


class FeedForward(nn.Module):
    """GEGLU feed-forward, as in Stable Diffusion's transformer blocks."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.proj_in = nn.Linear(dim, dim * mult * 2)
        self.proj_out = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj_in(x).chunk(2, dim=-1)
        return self.proj_out(a * F.gelu(gate))


def zero_(layer: nn.Linear) -> nn.Linear:
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class SpatialTransformer(nn.Module):
    """Per-frame transformer on (B*T, C, H, W): self-attn, static cross-attn (+ zero-init word cross-attn), FF."""

    def __init__(self, channels: int, heads: int, context_dim: int, groups: int, ff_mult: int = 4,
                 design: bool = False):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.norm1 = nn.LayerNorm(channels)
        self.self_attn = Attention(channels, heads)
        self.norm2 = nn.LayerNorm(channels)
        self.static_attn = Attention(channels, heads, context_dim)
        self.word_attn = Attention(channels, heads, context_dim)
        self.word_out = zero_(nn.Linear(channels, channels))  # KineTy's zero-convolution branch
        if design:
            self.add_design(context_dim)
        self.norm3 = nn.LayerNorm(channels)
        self.ff = FeedForward(channels, ff_mult)
        self.proj_out = nn.Linear(channels, channels)
        # A list while the self-attention maps are recorded (kinetype.model.losses.recorded_self_attention).
        self.map_sink: list[torch.Tensor] | None = None

    def add_design(self, context_dim: int) -> None:
        """The design cross-attention, its gate at zero: the layer's output is unchanged."""
        channels, heads = self.proj_in.out_features, self.static_attn.heads
        ref = self.proj_in.weight
        self.design_attn = Attention(channels, heads, context_dim).to(ref.device, ref.dtype)
        self.design_gate = nn.Parameter(torch.zeros((), device=ref.device, dtype=ref.dtype))

    def forward(self, x: torch.Tensor, frames: int, static: Caption, word: Caption | None = None,
                design=None) -> torch.Tensor:  # design: kinetype.model.frames.Design, tokens (B, Q, D)
        bt, c, hgt, wid = x.shape
        h = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))  # (B*T, H*W, C)
        h = h + self.self_attn(self.norm1(h), map_sink=self.map_sink)
        hn = self.norm2(h)
        h = h + self.static_attn(hn, static[0], static[1], context_repeat=frames)
        if word is not None:  # video stage: word caption through the zero-initialised branch
            h = h + self.word_out(self.word_attn(hn, word[0], word[1], context_repeat=frames))
        if design is not None and hasattr(self, "design_attn"):  # DynamiCrafter: tanh-gated, 0 at the start
            out = self.design_attn(hn, design.tokens, None, context_repeat=frames)  # (B*T, H*W, C)
            present = design.present.to(out.dtype).repeat_interleave(frames)[:, None, None]  # (B*T, 1, 1)
            h = h + torch.tanh(self.design_gate).to(out.dtype) * present * out
        h = h + self.ff(self.norm3(h))
        return x + self.proj_out(h).transpose(1, 2).reshape(bt, c, hgt, wid)


class TemporalTransformer(nn.Module):
    """Per-pixel transformer across frames: self-attn with frame positions, dynamic cross-attn, FF; zero-init out."""

    def __init__(self, channels: int, heads: int, context_dim: int, groups: int, max_frames: int, ff_mult: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.register_buffer("frame_position", frame_encoding(max_frames, channels), persistent=False)
        self.norm1 = nn.LayerNorm(channels)
        self.self_attn = Attention(channels, heads)
        self.norm2 = nn.LayerNorm(channels)
        self.dynamic_attn = Attention(channels, heads, context_dim)
        self.norm3 = nn.LayerNorm(channels)
        self.ff = FeedForward(channels, ff_mult)
        self.proj_out = zero_(nn.Linear(channels, channels))  # starts as the identity block
        # A list while the dynamic cross-attention maps are recorded (kinetype.model.losses.recorded_motion_attention).
        self.map_sink: list[torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, frames: int, dynamic: Caption) -> torch.Tensor:
        bt, c, hgt, wid = x.shape
        b = bt // frames
        h = self.norm(x)
        h = h.view(b, frames, c, hgt * wid).permute(0, 3, 1, 2).reshape(b * hgt * wid, frames, c)  # (B*H*W, T, C)
        h = self.proj_in(h) + self.frame_position[:frames].to(h.dtype)
        h = h + self.self_attn(self.norm1(h))
        maps = None if self.map_sink is None else []
        h = h + self.dynamic_attn(self.norm2(h), dynamic[0], dynamic[1], context_repeat=hgt * wid, map_sink=maps)
        if maps:  # (B, heads, H*W*T, L), pixel-major -> (B, heads, H, W, T, L)
            self.map_sink.append(maps[0].unflatten(2, (hgt, wid, frames)))
        h = h + self.ff(self.norm3(h))
        h = self.proj_out(h).view(b, hgt * wid, frames, c).permute(0, 2, 3, 1).reshape(bt, c, hgt, wid)
        return x + h


def frame_encoding(max_frames: int, dim: int) -> torch.Tensor:
    """Sinusoidal position encoding of frame indices (Vaswani et al. 2017): (max_frames, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
    angles = torch.arange(max_frames).float()[:, None] * freqs[None]
    return F.pad(torch.cat([angles.sin(), angles.cos()], dim=-1), (0, dim - 2 * half))
