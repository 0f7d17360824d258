"""Training losses of the diffusion stages (the training loop composes them).

- Denoising: MSE between the network output and the objective's target
  (:func:`kinetype.model.objective.target`).
- Glyph loss (KineTy Sec. 4.4, fixed): decode the *predicted clean latents* x0_hat (from x_t and the
  prediction; KineTy's public code decodes the raw noise prediction instead) and take L1 inside each
  frame's own dilated glyph mask (KineTy used one blocky mask from the last frame for the whole clip).
  The target is the frozen autoencoder's decoding of the clean latents x0 with the layout given: the
  best any denoiser output can decode to, and what a trainer reading cached latents has without
  decoding a video. On a few clips and frames per batch (``LossConfig.glyph_clips``): the decoder
  runs at full resolution, and on every clip it cost 65% of the `cpu` preset's image step.
- Motion loss (DEMO, arXiv 2410.24219, Eq. 8-9): MSE between consecutive-frame differences of
  x0_hat and of x0, in latent space.
- Temporally regularised self-attention (HARIVO Sec. 3.3, "TRS"): a frame's self-attention map
  says where each position looks in that frame — the scene's structure; consecutive frames of a
  steady clip keep it. The loss is the squared difference of consecutive frames' maps in the
  decoder's spatial self-attention, later layers weighted more (:func:`self_attention_smoothness`).
  HARIVO pairs it with a frozen image model (``video_trains = "video"``: only the temporal layers
  and the word branch learn, so they must make the frames agree).
- Text-motion loss (DEMO Sec. 3.1, Eq. 5): where the pooled token of the dynamic caption (its
  end-of-text token) is attended to in the temporal cross-attention, that map's change from frame to
  frame should follow where the real clip changes. DEMO measures the clip's change with optical flow;
  here it is the magnitude of consecutive-frame differences of the clean latents (no flow network
  ships), average-pooled to each layer's resolution; the two are compared by cosine similarity, which
  ignores their different scales (:func:`text_motion_loss`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossConfig:
    glyph_weight: float = 0.1
    # Clips per micro-batch that get the glyph loss (at most the batch). One: in the same minutes of
    # the `cpu` preset's image stage, 1 of 16 clips gave lower held-out denoising and glyph losses than
    # 4 or all 16 (more steps beat a less noisy glyph term; benchmarks/glyph_subset.py).
    glyph_clips: int = 1
    glyph_frames: int = 2  # frames per such clip
    glyph_dilate_px: int = 3  # mask dilation radius, so strokes and their edges count
    glyph_max_t: float = 0.8  # no glyph loss for samples noisier than this (x0_hat is a blur there)
    motion_weight: float = 0.0
    trs_weight: float = 0.0  # temporally regularised self-attention (video stage); 0 = off
    text_motion_weight: float = 0.0  # DEMO's text-motion loss (video stage); 0 = off; DEMO trains with 0.1
    uncond_prob: float = 0.1  # all captions dropped together: classifier-free guidance
    glyph_drop_prob: float = 0.3  # glyph-layout channels dropped: one model with and without them
    # A denoiser with given frames (kinetype.model.frames), video stage: the share of clips trained
    # with their first frame given (animate a still), and with the first and last (in-betweens,
    # loops); the rest are trained without, so one model also makes clips from text alone.
    given_first_prob: float = 0.3
    given_ends_prob: float = 0.2


def dilate(masks: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of (N, H, W) masks by a (2r+1)^2 square."""
    if radius <= 0:
        return masks
    return F.max_pool2d(masks[:, None].float(), 2 * radius + 1, stride=1, padding=radius)[:, 0]


def denoising_loss(out: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out.float(), tgt.float())


def glyph_loss(
    decode,  # (latents (K, F, C, h, w), masks (K, F, H, W), present (K,)) -> frames (K, F, 3, H, W)
    x0_hat: torch.Tensor,  # (B, T, C, h, w) predicted clean latents
    x0: torch.Tensor,  # (B, T, C, h, w) clean latents
    masks: torch.Tensor,  # (B, T, H, W) {0, 1} glyph masks at pixel resolution
    t: torch.Tensor,  # (B,) times
    present: torch.Tensor,  # (B,) 1 where the denoiser was given the glyph layout
    generator: torch.Generator,  # on x0's device: the choice is drawn there, with no read-back
    *,
    clips: int,
    frames: int,
    max_t: float,
    dilate_px: int,
) -> torch.Tensor:
    b, num_frames = x0_hat.shape[:2]
    k, f, device = min(clips, b), min(frames, num_frames), x0_hat.device
    # K clips in random order, those with t <= max_t first (their keys are < 1); F frames of each.
    keys = torch.rand(b, generator=generator, device=device) + (t > max_t).to(torch.float32)
    clip_idx = keys.argsort()[:k]  # (K,)
    frame_idx = torch.rand(k, num_frames, generator=generator, device=device).argsort(dim=1)[:, :f]  # (K, F)
    rows = torch.arange(k, device=device)[:, None]

    def pick(a: torch.Tensor) -> torch.Tensor:  # (B, T, ...) -> (K, F, ...)
        return a[clip_idx][rows, frame_idx]

    m = pick(masks)
    with torch.no_grad():
        target = decode(pick(x0), m, torch.ones(k, device=device))  # (K, F, 3, H, W)
    # The decoder sees the layout exactly when the denoiser did (a glyph-aware decoder; others ignore it).
    decoded = decode(pick(x0_hat), m, present[clip_idx])
    weight = dilate(m.flatten(0, 1), dilate_px).view_as(m) * (t[clip_idx] <= max_t).to(m.dtype).view(k, 1, 1, 1)
    err = (decoded.float() - target.float()).abs().mean(2)  # (K, F, H, W)
    return (err * weight).sum() / weight.sum().clamp_min(1.0)


def motion_loss(x0_hat: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """DEMO Eq. 9: consecutive-frame differences, z[2:T] - z[1:T-1]."""
    if x0.shape[1] < 2:
        return x0_hat.new_zeros(())
    d_hat = x0_hat[:, 1:] - x0_hat[:, :-1]
    d = x0[:, 1:] - x0[:, :-1]
    return F.mse_loss(d_hat.float(), d.float())


@contextlib.contextmanager
def recorded_self_attention(denoiser, on: bool = True) -> Iterator[list[list[torch.Tensor]]]:
    """While open (and ``on``), each decoder layer's spatial self-attention appends its map
    (B*T, heads, S, S) to its own list; yields the lists in the up path's order (first = deepest).
    Keep it open through the backward pass: a checkpointed layer recomputes the same maps there."""
    if not on:
        yield []
        return
    with _sinks_on([layer.spatial for level in denoiser.up for layer in level.layers if layer.spatial is not None]) as sinks:
        yield sinks


def self_attention_smoothness(sinks: list[list[torch.Tensor]], frames: int) -> torch.Tensor:
    """HARIVO's TRS loss over the L recorded decoder layers:

        sum_l w_l * mean_{clip, f, head, query} || A_l[f] - A_l[f+1] ||^2 / sum_l w_l,   w_l = l / L,

    each A_l[f] a row-stochastic (S, S) map of frame f, the norm over a query's row of keys; the
    normalisation keeps the weight's meaning whatever the depth."""
    total, norm = None, 0.0
    for rank, sink in enumerate(sinks, start=1):
        w = rank / len(sinks)
        for maps in sink[:1]:  # the forward's map (a checkpointed layer appends its recomputation later)
            a = maps.unflatten(0, (-1, frames))  # (B, T, heads, S, S)
            term = (a[:, 1:] - a[:, :-1]).square().sum(-1).mean()
            total = w * term if total is None else total + w * term
            norm += w
    if total is None:
        raise ValueError("no self-attention maps were recorded: the denoiser's decoder has no spatial attention")
    return total / norm


@contextlib.contextmanager
def recorded_motion_attention(denoiser, on: bool = True) -> Iterator[list[list[torch.Tensor]]]:
    """While open (and ``on``), each temporal layer's cross-attention to the dynamic caption appends
    its map (B, heads, H, W, T, L) to its own list; yields the lists. As for
    :func:`recorded_self_attention`, keep it open through the backward pass."""
    if not on:
        yield []
        return
    with _sinks_on([m for m in denoiser.modules() if hasattr(m, "dynamic_attn")]) as sinks:
        yield sinks


@contextlib.contextmanager
def _sinks_on(layers: list) -> Iterator[list[list[torch.Tensor]]]:
    """A fresh list as each layer's ``map_sink`` while open; the layers record nothing after it."""
    sinks: list[list[torch.Tensor]] = [[] for _ in layers]
    for layer, sink in zip(layers, sinks):
        layer.map_sink = sink
    try:
        yield sinks
    finally:
        for layer in layers:
            layer.map_sink = None


def pooled_token(ids: torch.Tensor) -> torch.Tensor:
    """(B, L) token ids -> (B,) position of the end-of-text token, the caption's pooled token: the
    highest id in both vocabularies (the byte tokenizer's EOS; CLIP pools at its argmax too)."""
    return ids.argmax(-1)


def text_motion_loss(
    sinks: list[list[torch.Tensor]],  # per temporal layer: [(B, heads, H, W, T, L)]
    pooled: torch.Tensor,  # (B,) the pooled token's position in the dynamic caption
    x0: torch.Tensor,  # (B, T, C, h, w) the real clip's clean latents
    keep: torch.Tensor,  # (B,) bool: rows whose captions were given (a dropped caption has no motion to follow)
) -> torch.Tensor:
    """DEMO's text-motion loss, averaged over the recorded layers and the kept clips:

        1 - cos( |A_l[:, t+1] - A_l[:, t]| ,  pool_l |x0[t+1] - x0[t]| ),

    A_l (B, T, H, W) the pooled token's map in layer l (mean over heads), both sides flattened over
    (T-1, H, W) per clip. A still clip (no change) gives no gradient."""
    if x0.shape[1] < 2 or not bool(keep.any()):
        return x0.new_zeros((), dtype=torch.float32)
    change = (x0[:, 1:] - x0[:, :-1]).float().abs().mean(2)  # (B, T-1, h, w)
    terms = []
    for sink in sinks:
        for maps in sink[:1]:  # the forward's map (a checkpointed layer appends its recomputation later)
            b = maps.shape[0]
            a = maps[torch.arange(b, device=maps.device), ..., pooled].mean(1)  # (B, H, W, T)
            a = a.permute(0, 3, 1, 2)  # (B, T, H, W)
            da = (a[:, 1:] - a[:, :-1]).abs()
            target = F.adaptive_avg_pool2d(change, da.shape[-2:])  # (B, T-1, H, W)
            cos = F.cosine_similarity(da.flatten(1), target.flatten(1), dim=1, eps=1e-8)  # (B,)
            terms.append((1 - cos)[keep].mean())
    if not terms:
        raise ValueError("no cross-attention maps were recorded: the denoiser has no temporal layers")
    return torch.stack(terms).mean()
