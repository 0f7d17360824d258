"""Given frames: designs a clip must pass through, as DynamiCrafter's visual-detail stream
(Xing et al. 2023, Sec. 3.2: the image latent concatenated with every frame's noisy latent).

A clip is conditioned on the clean latents of some of its frames. The denoiser takes them as
``C + 1`` extra input planes per frame: the given latent (zeros where a frame is not given) and a
flag plane (1 where it is). One mechanism serves every way of making a clip from designs:

    none      no frame given (text-only generation; the condition dropped in training)
    first     frame 0 given: animate a still design (``kinetype animate IMAGE``)
    ends      frames 0 and T-1 given: in-betweening (``--to LAST``), and a loop when both are the
              same design (DynamiCrafter's looping and interpolation, Sec. 5)

Unlike DynamiCrafter, which puts the still on *every* frame and trains it from a random frame of
the clip (so the still says what the clip looks like, not where it is in time), kinetype's flags say
which frames are given: a user animating a design expects the clip to start from it, and the same
planes then carry two designs for in-betweening. The planes are zero for a clip without given frames,
and the input convolution's weights for them start at zero (:func:`widen_input`), so a model that
gains them is unchanged until it trains.

DynamiCrafter's second stream, the *context* (``design_context``): the first design also passes a
small query transformer (:class:`DesignEncoder`, the paper's context network P: learned queries
attending to the design's latent cells; no CLIP image encoder ships, so it reads the latent), and
every spatial layer attends to its tokens through a cross-attention whose output is scaled by
tanh of a learned gate, zero at the start (:class:`kinetype.model.attention.SpatialTransformer`).
The concatenated planes carry the design's exact pixels into its own frame; the tokens carry what
it looks like into every frame.

Training (:func:`draw_given`) draws a mode per clip from the clean latents it already has: no
host-device sync, the same draws on a resumed run (the step's generator).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from kinetype.model.attention import Attention, FeedForward, frame_encoding

MODES = ("none", "first", "ends")


class Given(NamedTuple):
    """Frames given to the denoiser: latents (B, T, C, h, w), zero where not given; flags (B, T),
    1.0 where given."""

    latents: torch.Tensor
    flags: torch.Tensor


class Design(NamedTuple):
    """The first design as context tokens (B, Q, D), and per clip whether one is given (B,) (a clip
    without one ignores the tokens: its cross-attention output is multiplied by 0)."""

    tokens: torch.Tensor
    present: torch.Tensor


class DesignEncoder(nn.Module):
    """DynamiCrafter's context network P, a query transformer: ``queries`` learned tokens attend to
    the design's latent cells (projected to ``dim``, with sinusoidal cell positions) and pass a
    feed-forward, ``layers`` times. (B, C, h, w) -> (B, queries, dim)."""

    def __init__(self, latent_channels: int, dim: int, queries: int = 16, layers: int = 2, heads: int = 4):
        super().__init__()
        self.dim = dim
        self.cells = nn.Linear(latent_channels, dim)
        self.queries = nn.Parameter(torch.randn(queries, dim) * 0.02)
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(2 * layers)])
        self.attn = nn.ModuleList([Attention(dim, heads, dim) for _ in range(layers)])
        self.ff = nn.ModuleList([FeedForward(dim, 2) for _ in range(layers)])
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        b, _, h, w = latent.shape
        cells = self.cells(latent.flatten(2).transpose(1, 2))  # (B, h*w, D)
        cells = cells + frame_encoding(h * w, self.dim).to(cells)
        q = self.queries.to(cells.dtype).expand(b, -1, -1)  # (B, Q, D)
        for i, (attn, ff) in enumerate(zip(self.attn, self.ff)):
            q = q + attn(self.norms[2 * i](q), cells)
            q = q + ff(self.norms[2 * i + 1](q))
        return self.norm_out(q)


def design_context(encoder: DesignEncoder, cond: Given | None, batch: int, like: torch.Tensor) -> Design:
    """The tokens of each clip's first given frame (zeros and ``present`` 0 for clips without one)."""
    if cond is None:
        q = encoder.queries.shape[0]
        return Design(like.new_zeros(batch, q, encoder.dim), like.new_zeros(batch))
    return Design(encoder(cond.latents[:, 0].to(like.dtype)), cond.flags[:, 0].to(like.dtype))


def given(latents: torch.Tensor, mode: str, frames: int, last: torch.Tensor | None = None) -> Given:
    """The given frames of ``mode`` for clips of ``frames`` frames: ``latents`` (B, C, h, w) is the
    first frame's design; ``last`` the last frame's for ``ends`` (None: the first again, a loop)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    b = latents.shape[0]
    out = latents.new_zeros(b, frames, *latents.shape[1:])
    flags = latents.new_zeros(b, frames)
    if mode != "none":
        out[:, 0], flags[:, 0] = latents, 1.0
    if mode == "ends":
        out[:, -1], flags[:, -1] = latents if last is None else last, 1.0
    return Given(out, flags)


def draw_given(x0: torch.Tensor, generator: torch.Generator, first_prob: float, ends_prob: float) -> Given:
    """Training's draw: per clip of ``x0`` (B, T, C, h, w), ``first`` with probability ``first_prob``,
    ``ends`` with ``ends_prob``, else none; the given latents are the clip's own clean frames."""
    b, frames = x0.shape[:2]
    u = torch.rand(b, generator=generator, device=x0.device)  # (B,)
    first = (u < first_prob + ends_prob).to(x0.dtype)  # first or ends: frame 0 given
    ends = (u < ends_prob).to(x0.dtype)
    flags = x0.new_zeros(b, frames)
    flags[:, 0] = first
    if frames > 1:
        flags[:, -1] = ends
    return Given(x0 * flags[:, :, None, None, None], flags)


def given_planes(cond: Given | None, like: torch.Tensor, channels: int) -> torch.Tensor:
    """(B*T, channels + 1, h, w): the given latents (``channels`` planes: C, or 2C for an
    interpolator's two keyframes) and the flag plane, zeros for ``None``; ``like`` is the flattened
    input (B*T, ., h, w) whose dtype, device, rows and spatial size they take."""
    if cond is None:
        return like.new_zeros(like.shape[0], channels + 1, *like.shape[-2:])
    lat = cond.latents.flatten(0, 1).to(like.dtype)  # (B*T, channels, h, w)
    flag = cond.flags.flatten(0, 1).to(like.dtype).view(-1, 1, 1, 1).expand(-1, 1, *like.shape[-2:])
    return torch.cat([lat, flag], dim=1)


@torch.no_grad()
def widen_input(conv: nn.Conv2d, extra: int) -> nn.Conv2d:
    """``conv`` with ``extra`` more input channels after its own, their weights zero: the same
    output for any input whose extra channels are ignored (a trained model gaining a condition)."""
    wide = nn.Conv2d(conv.in_channels + extra, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     bias=conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)
    wide.weight.zero_()
    wide.weight[:, : conv.in_channels] = conv.weight
    if conv.bias is not None:
        wide.bias.copy_(conv.bias)
    return wide
