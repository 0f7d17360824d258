"""Longer clips by keyframe interpolation (FusionFrames / Kandinsky Video, Arkhipkin et al. 2023).

A keyframe model makes K frames; an interpolation model makes the n = ``inbetweens`` latents after
each keyframe, so K keyframe-model frames give a clip of (n + 1)·K frames at n + 1 times the
keyframe rate (the bundled model's 12 frames at 4 fps -> 48 at 16 fps). As in the paper, the
interpolation model is the keyframe UNet with a wider input and output and temporal convolutions
(``DenoiserConfig.inbetweens``, ``temporal_conv``). Each of its "frames" is one gap:

    input of gap g    the n noisy in-between latents stacked on channels (n·C planes); their glyph
                      masks and a mask-given flag (n + 1); keyframe g and keyframe g + 1 (2·C) and
                      a flag saying keyframe g + 1 exists (1)
    output of gap g   the n in-betweens' predictions (n·C)
    across the gaps   the keyframe model's temporal layers (attention with the dynamic caption) and
                      a kernel-3 temporal convolution after each ResNet block

Predicting a gap's frames in one pass of the network, rather than masking them inside a clip the
keyframe model denoises whole, is the paper's point: the in-betweens cost one image-sized pass per
gap. **One noise per gap** (:func:`shared_noise`), in training and sampling: the n in-betweens of a
gap start from the same draw. A network that reads the gap through one stream of features cannot
tell n independent noises apart (started from the keyframe model, its denoising loss was 0.76
against the keyframe model's 0.09, and 0.73 after 300 steps); from one shared noise the stacked
latents differ only by their (small) frame-to-frame change, which the network has to learn, and
the noise it has to predict is the one it sees. A deterministic solver then carries one noise draw
to the n frames, close to one another as consecutive frames are. The last gap has no keyframe after it (flag 0) and continues the motion for n frames; for a
loop it closes onto keyframe 0 instead.

Layout of a clip of T = (n + 1)·K frames: frame (n + 1)·g is keyframe g, and frames (n + 1)·g + 1
... (n + 1)·g + n are gap g. The ``interpolation`` training stage cuts the shards' clips this way
(every (n + 1)-th frame a keyframe), from clips rendered at the rate the interpolated clips play at.

The interpolation model starts as the keyframe model (:func:`interpolator_from`): every weight
shared by shape is copied, the in-betweens' input planes share the keyframe model's input weights
(÷ n, so a still clip embeds as the keyframe model embeds one frame), the output is tiled n times,
and the keyframe planes and temporal convolutions start at zero.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from kinetype.model.denoiser import Denoiser
from kinetype.model.frames import Given


def split(clip: torch.Tensor, inbetweens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, C, h, w) with T = (n + 1)·K -> keyframes (B, K, C, h, w), gaps (B, K, n·C, h, w)."""
    b, t, c, h, w = clip.shape
    x = clip.reshape(b, t // (inbetweens + 1), inbetweens + 1, c, h, w)
    return x[:, :, 0], x[:, :, 1:].flatten(2, 3)


def join(keys: torch.Tensor, gaps: torch.Tensor, inbetweens: int) -> torch.Tensor:
    """The inverse of :func:`split`: keyframes (B, K, C, h, w) and gaps (B, K, n·C, h, w) -> (B, T, C, h, w)."""
    inner = gaps.unflatten(2, (inbetweens, keys.shape[2]))  # (B, K, n, C, h, w)
    return torch.cat([keys[:, :, None], inner], dim=2).flatten(1, 2)


def gap_frames(gaps: torch.Tensor, inbetweens: int) -> torch.Tensor:
    """Gaps (B, K, n·C, h, w) as frames (B, K·n, C, h, w) (for decoding, the glyph loss)."""
    return gaps.unflatten(2, (inbetweens, -1)).flatten(1, 2)


def split_masks(masks: torch.Tensor, inbetweens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Glyph masks (B, T, h, w) -> the keyframes' (B, K, h, w) and the gaps' (B, K, n, h, w)."""
    x = masks.unflatten(1, (masks.shape[1] // (inbetweens + 1), inbetweens + 1))
    return x[:, :, 0], x[:, :, 1:]


def shared_noise(noise: torch.Tensor, inbetweens: int) -> torch.Tensor:
    """Gap noise (B, K, n·C, h, w) with the first in-between's draw repeated for all n."""
    c = noise.shape[2] // inbetweens
    return noise[:, :, :c].repeat(1, 1, inbetweens, 1, 1)


def neighbours(keys: torch.Tensor, loop: bool = False) -> Given:
    """Each gap's keyframes, the interpolation model's given frames: latents (B, K, 2·C, h, w) =
    keyframe g and keyframe g + 1, flags (B, K) = 1 where keyframe g + 1 exists (the last gap has
    none, or with ``loop`` closes onto keyframe 0)."""
    after = torch.roll(keys, -1, dims=1)
    flags = keys.new_ones(keys.shape[:2])
    if not loop:
        after[:, -1] = 0.0
        flags[:, -1] = 0.0
    return Given(torch.cat([keys, after], dim=2), flags)


@torch.no_grad()
def interpolator_from(keyframe: Denoiser, inbetweens: int) -> Denoiser:
    """An interpolation model of ``inbetweens`` latents per gap, started as the keyframe model."""
    cfg = replace(keyframe.cfg, inbetweens=inbetweens, temporal_conv=True, given_frames=False, design_context=False)
    ref = keyframe.x_embedder.weight
    net = Denoiser(cfg, keyframe.latent_channels, keyframe.context_dim).to(ref.device, ref.dtype)
    own = net.state_dict()
    shared = {k: v for k, v in keyframe.state_dict().items()
              if k in own and own[k].shape == v.shape and not k.startswith(("x_embedder.", "final_layer."))}
    net.load_state_dict(shared, strict=False)
    c, n = keyframe.latent_channels, inbetweens
    w = torch.zeros_like(net.x_embedder.weight)  # (D, n·C [+ n + 1 glyph] + 2·C + 1, 3, 3)
    w[:, : n * c] = (ref[:, :c] / n).repeat(1, n, 1, 1)
    if cfg.glyph_channels:  # the keyframe model's mask weight shared by the n masks, its flag weight kept
        w[:, n * c: n * c + n] = ref[:, c: c + 1] / n
        w[:, n * c + n] = ref[:, c + 1]
    net.x_embedder.weight.copy_(w)
    net.x_embedder.bias.copy_(keyframe.x_embedder.bias)
    net.final_layer.weight.copy_(keyframe.final_layer.weight.repeat(n, 1, 1, 1))
    net.final_layer.bias.copy_(keyframe.final_layer.bias.repeat(n))
    return net
