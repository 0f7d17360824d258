"""Training losses: denoising + glyph loss on decoded x0_hat + optional video-motion loss.

- Denoising: MSE between the network output and the objective's target
  (:func:`kinetype.model.objective.target`).
- Glyph loss (KineTy Sec. 4.4, fixed): decode the *predicted clean latents* x0_hat (from x_t and the
  prediction; KineTy's public code decodes the raw noise prediction instead) for a few sampled
  frames, and take L1 to the real frames inside each frame's own dilated glyph mask (KineTy used one
  blocky mask from the last frame for the whole clip).
- Motion loss (DEMO, arXiv 2410.24219, Eq. 8-9): MSE between consecutive-frame differences of
  x0_hat and of x0, in latent space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kinetype.model.objective import predict_x0_eps


@dataclass
class LossConfig:
    glyph_weight: float = 0.1
    glyph_frames: int = 2  # frames per clip decoded for the glyph loss
    glyph_dilate_px: int = 3  # mask dilation radius, so strokes and their edges count
    glyph_max_t: float = 0.8  # skip the glyph loss for samples noisier than this (x0_hat is a blur there)
    motion_weight: float = 0.0
    uncond_prob: float = 0.1  # all captions dropped together: classifier-free guidance
    glyph_drop_prob: float = 0.3  # glyph-layout channels dropped: one model with and without them


def dilate(masks: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of (N, H, W) masks by a (2r+1)^2 square."""
    if radius <= 0:
        return masks
    return F.max_pool2d(masks[:, None].float(), 2 * radius + 1, stride=1, padding=radius)[:, 0]


def denoising_loss(out: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out.float(), tgt.float())


def glyph_loss(
    decode,  # (latents (B, K, C, h, w), masks (B, K, H, W), present (B,)) -> frames (B, K, 3, H, W)
    x0_hat: torch.Tensor,  # (B, T, C, h, w)
    video: torch.Tensor,  # (B, T, 3, H, W) in [-1, 1]
    masks: torch.Tensor,  # (B, T, H, W) {0, 1}
    keep: torch.Tensor,  # (B,) bool: samples the loss applies to
    frames: int,
    dilate_px: int,
    generator: torch.Generator,
    present: torch.Tensor | None = None,  # (B,) 1 where the model was given the glyph layout
) -> torch.Tensor:
    b, t = x0_hat.shape[:2]
    k = min(frames, t)
    # Pick k frames per clip (CPU generator: the same choice on every device and after resume).
    idx = torch.stack([torch.randperm(t, generator=generator)[:k] for _ in range(b)]).to(x0_hat.device)  # (B, k)
    pick = lambda a: torch.gather(a, 1, idx.view(b, k, *([1] * (a.ndim - 2))).expand(b, k, *a.shape[2:]))
    real, m = pick(video), pick(masks)
    # The decoder sees the layout exactly when the denoiser did (a glyph-aware decoder; others ignore it).
    decoded = decode(pick(x0_hat), m, present)  # (B, k, 3, H, W)
    m = dilate(m.flatten(0, 1), dilate_px).view_as(m) * keep.view(b, 1, 1, 1).to(m.dtype)
    err = (decoded.float() - real.float()).abs().mean(2)  # (B, k, H, W)
    return (err * m).sum() / m.sum().clamp_min(1.0)


def motion_loss(x0_hat: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """DEMO Eq. 9: consecutive-frame differences, z[2:T] - z[1:T-1]."""
    if x0.shape[1] < 2:
        return x0_hat.new_zeros(())
    d_hat = x0_hat[:, 1:] - x0_hat[:, :-1]
    d = x0[:, 1:] - x0[:, :-1]
    return F.mse_loss(d_hat.float(), d.float())


def x0_from_output(x_t, out, t, objective: str) -> torch.Tensor:
    return predict_x0_eps(x_t, out, t, objective)[0]


class DiffusionLoss:
    """The image/video-stage loss: one call per micro-batch, returns the terms (``"loss"`` is the total)."""

    def __init__(self, cfg: LossConfig, objective: str, autoencoder, video: bool):
        self.cfg, self.objective, self.autoencoder, self.video = cfg, objective, autoencoder, video

    def __call__(self, net, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        from kinetype.model.autoencoder import resize_masks
        from kinetype.model.objective import add_noise, sample_times, target

        cfg, obj = self.cfg, self.objective
        video, masks = batch["video"], batch["mask"]  # (B, T, 3, H, W), (B, T, H, W)
        b, device = video.shape[0], video.device
        with torch.no_grad():
            x0 = self.autoencoder.encode(video, masks)  # (B, T, C, h, w), frozen autoencoder

        # Noise, times and condition drops come from a CPU generator: identical on any device and
        # reproducible after a resume.
        t = sample_times(b, generator, device, obj)
        eps = torch.randn(x0.shape, generator=generator).to(device, x0.dtype)
        x_t = add_noise(x0, eps, t, obj)
        drop = (torch.rand(b, generator=generator) < cfg.uncond_prob).tolist()
        blank = lambda caps: ["" if d else c for c, d in zip(caps, drop)]  # noqa: E731
        static = blank(batch["static"])
        dynamic = blank(batch["dynamic"]) if self.video else None
        word = blank(batch["word"]) if self.video else None
        glyph = resize_masks(masks, x0.shape[-2:])  # (B, T, h, w)
        glyph_present = (torch.rand(b, generator=generator) >= cfg.glyph_drop_prob).float().to(device)

        out = net(x_t, t, static, dynamic, word, glyph, glyph_present)
        terms = {"denoise": denoising_loss(out, target(x0, eps, t, obj))}
        loss = terms["denoise"]
        if cfg.glyph_weight > 0 or cfg.motion_weight > 0:
            x0_hat = x0_from_output(x_t, out.float(), t, obj)
            if cfg.glyph_weight > 0:
                keep = t <= cfg.glyph_max_t
                terms["glyph"] = glyph_loss(self.autoencoder.decode, x0_hat, video, masks, keep,
                                            cfg.glyph_frames, cfg.glyph_dilate_px, generator, glyph_present)
                loss = loss + cfg.glyph_weight * terms["glyph"]
            if cfg.motion_weight > 0 and self.video:
                terms["motion"] = motion_loss(x0_hat, x0)
                loss = loss + cfg.motion_weight * terms["motion"]
        terms["loss"] = loss
        return terms


class AutoencoderLoss:
    """The autoencoder-stage loss: frames of the batch through the (DDP-wrapped) autoencoder."""

    def __call__(self, ae, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        frames = batch["video"].flatten(0, 1)  # (B*T, 3, H, W)
        masks = batch["mask"].flatten(0, 1)
        return ae(frames, masks, generator)
