"""The autoencoder: a diffusers ``AutoencoderKL`` that maps frames to latents and back.

Built from :class:`AutoencoderConfig` and trained by kinetype (``kinetype train --stage
autoencoder``), or loaded frozen from a local diffusers folder (e.g. Stable Diffusion's ``vae/``).
Frames are handled one at a time: video (B, T, 3, H, W) <-> latents (B, T, C, h, w).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kinetype.model.config import AutoencoderConfig


class Autoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig, vae: nn.Module | None = None):
        super().__init__()
        from diffusers import AutoencoderKL

        if vae is None:
            n = len(cfg.block_out_channels)
            vae = AutoencoderKL(
                in_channels=3,
                out_channels=3,
                down_block_types=("DownEncoderBlock2D",) * n,
                up_block_types=("UpDecoderBlock2D",) * n,
                block_out_channels=tuple(cfg.block_out_channels),
                layers_per_block=cfg.layers_per_block,
                latent_channels=cfg.latent_channels,
                norm_num_groups=cfg.norm_num_groups,
            )
        self.cfg = cfg
        self.vae = vae

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_folder(cls, path: str | Path, cfg: AutoencoderConfig | None = None) -> Autoencoder:
        """Load a local diffusers ``AutoencoderKL`` folder (config.json + safetensors); never a hub."""
        from diffusers import AutoencoderKL

        from kinetype.model.errors import ModelError

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a diffusers AutoencoderKL folder (no config.json)")
        try:
            vae = AutoencoderKL.from_pretrained(str(path), local_files_only=True, use_safetensors=True, low_cpu_mem_usage=False)
        except Exception as e:  # corrupt or incompatible weights: one line for the user
            raise ModelError(f"{path}: cannot load the autoencoder ({type(e).__name__}: {_first_line(e)})") from None
        vc = vae.config
        loaded = AutoencoderConfig(
            block_out_channels=tuple(vc.block_out_channels),
            layers_per_block=vc.layers_per_block,
            latent_channels=vc.latent_channels,
            norm_num_groups=vc.norm_num_groups,
            scaling_factor=float(vc.scaling_factor),
            path=str(path),
            mask_weight=cfg.mask_weight if cfg else AutoencoderConfig.mask_weight,
            kl_weight=cfg.kl_weight if cfg else AutoencoderConfig.kl_weight,
        )
        return cls(loaded, vae)

    def save(self, path: str | Path) -> None:
        """Write a diffusers folder (config.json + diffusion_pytorch_model.safetensors)."""
        self.vae.register_to_config(scaling_factor=float(self.cfg.scaling_factor))
        self.vae.save_pretrained(str(path), safe_serialization=True)

    # -- frames <-> latents ----------------------------------------------------------------------
    @property
    def factor(self) -> int:
        return self.cfg.downsample_factor

    def encode(self, video: torch.Tensor, *, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, T, 3, H, W) in [-1, 1] -> scaled latents (B, T, C, h, w)."""
        b, t = video.shape[:2]
        dist = self.vae.encode(video.flatten(0, 1)).latent_dist
        z = dist.sample(generator) if sample else dist.mode()
        return (z * self.cfg.scaling_factor).unflatten(0, (b, t))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, T, C, h, w) -> frames (B, T, 3, H, W), roughly in [-1, 1]."""
        b, t = latents.shape[:2]
        x = self.vae.decode(latents.flatten(0, 1) / self.cfg.scaling_factor).sample
        return x.unflatten(0, (b, t))

    # -- autoencoder stage loss ------------------------------------------------------------------
    def forward(self, frames: torch.Tensor, masks: torch.Tensor, generator: torch.Generator | None = None):
        """Training forward (what DDP wraps in the autoencoder stage): the reconstruction loss terms."""
        return self.reconstruction_loss(frames, masks, generator)

    def reconstruction_loss(
        self, frames: torch.Tensor, masks: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """frames (N, 3, H, W), masks (N, H, W). L1 + extra weight inside glyph masks (thin strokes) + KL."""
        dist = self.vae.encode(frames).latent_dist
        recon = self.vae.decode(dist.sample(generator)).sample
        err = (recon.float() - frames.float()).abs().mean(1)  # (N, H, W)
        l1 = err.mean()
        glyph = (err * masks).sum() / masks.sum().clamp_min(1.0)
        kl = dist.kl().mean() / frames[0].numel()
        total = l1 + self.cfg.mask_weight * glyph + self.cfg.kl_weight * kl
        return {"loss": total, "l1": l1.detach(), "glyph_l1": glyph.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def measure_scaling_factor(self, frames: torch.Tensor) -> float:
        """1 / std of unscaled latents (the LDM recipe, so diffusion sees unit-variance latents)."""
        z = self.vae.encode(frames).latent_dist.mode()
        return float(1.0 / z.float().std().clamp_min(1e-6))


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Glyph masks (..., H, W) -> coverage at latent resolution (..., h, w) by area averaging."""
    lead = masks.shape[:-2]
    m = F.adaptive_avg_pool2d(masks.reshape(-1, 1, *masks.shape[-2:]).float(), size)
    return m.reshape(*lead, *size)


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:200] if s else ""
