"""The autoencoder: frames <-> latents, one frame at a time.

Two kinds behind one interface (``AutoencoderConfig.kind``):

- ``"kl"``: a diffusers ``AutoencoderKL``, built from the config and trained by kinetype, or loaded
  frozen from a local diffusers folder (e.g. Stable Diffusion's ``vae/``). It ignores glyph masks.
- ``"glyph"``: :class:`~kinetype.model.glyph_vae.GlyphVAE`, whose decoder also sees the glyph
  layout at full resolution (crisp letters from small latents; see that module for why).

Video (B, T, 3, H, W) <-> latents (B, T, C, h, w); glyph masks (B, T, H, W) in [0, 1], with an
optional per-clip flag ``present`` (B,) saying whether the mask is given (1) or withheld (0).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kinetype.jsonfile import read_json_object
from kinetype.model.config import AutoencoderConfig
from kinetype.model.errors import ModelError
from kinetype.model.glyph_vae import CLASS_NAME, WEIGHTS, GlyphVAE, GlyphVAEShape, is_glyph_vae_folder
from kinetype.model.weights import load_weights


class Autoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig, vae: nn.Module | None = None):
        super().__init__()
        if vae is None and cfg.kind == "glyph":
            vae = GlyphVAE(GlyphVAEShape(tuple(cfg.block_out_channels), cfg.layers_per_block, cfg.latent_channels,
                                         cfg.norm_num_groups if cfg.glyph_norm else 0, cfg.init_logvar))
        elif vae is None:
            # diffusers only for the "kl" kind, imported here: it adds about 2 s to every start-up
            # (measured beside torch on the 2-core machine), and the glyph kind never needs it.
            from diffusers import AutoencoderKL

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

    @property
    def glyph(self) -> bool:
        """Whether the decoder takes the glyph layout."""
        return isinstance(self.vae, GlyphVAE)

    def freeze_encoder(self) -> None:
        """Train the decoder alone. The encoder, so the latents and their measured scale, stay as
        they are, and a denoiser trained on those latents samples latents the new decoder reads: a
        drop-in decoder (Stable Diffusion's ft-MSE decoder was made the same way)."""
        for name, param in self.vae.named_parameters():
            if name.startswith(self._encoder_prefixes):
                param.requires_grad_(False)

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The weights that make the latents: the encoder's (and, with ``cfg.scaling_factor``, all a
        latent depends on). A decoder fine-tune leaves them, so latents cached for them stay valid."""
        return {name: value for name, value in self.vae.state_dict().items() if name.startswith(self._encoder_prefixes)}

    @property
    def _encoder_prefixes(self) -> tuple[str, ...]:
        return ("enc_",) if self.glyph else ("encoder.", "quant_conv.")

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_folder(cls, path: str | Path, cfg: AutoencoderConfig | None = None) -> Autoencoder:
        """Load a local autoencoder folder (kinetype GlyphVAE or diffusers AutoencoderKL); never a hub."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not an autoencoder folder (no config.json)")
        train = training_fields(cfg or AutoencoderConfig())
        if is_glyph_vae_folder(path):
            return cls._load_glyph(path, train)
        from diffusers import AutoencoderKL  # the "kl" kind only (see __init__)
        from diffusers.utils import logging as diffusers_logging

        # diffusers warns of config keys it ignores on stderr, lines around kinetype's one line.
        diffusers_logging.set_verbosity_error()
        try:
            vae = AutoencoderKL.from_pretrained(str(path), local_files_only=True, use_safetensors=True, low_cpu_mem_usage=False)
        except Exception as e:  # corrupt or incompatible weights: one line for the user
            raise ModelError(f"{path}: cannot load the autoencoder ({type(e).__name__}: {_first_line(e)})") from None
        vae = vae.float()  # a half-precision folder computes in float32 here
        for name, param in vae.named_parameters():
            if not bool(torch.isfinite(param).all()):
                raise ModelError(f"{path}: weight {name!r} has non-finite values (NaN or inf): the model is damaged")
        vc = vae.config
        loaded = AutoencoderConfig(
            kind="kl",
            block_out_channels=tuple(vc.block_out_channels),
            layers_per_block=vc.layers_per_block,
            latent_channels=vc.latent_channels,
            norm_num_groups=vc.norm_num_groups,
            scaling_factor=float(vc.scaling_factor),
            path=str(path),
            **train,
        )
        return cls(loaded, vae)

    @classmethod
    def _load_glyph(cls, path: Path, train: dict) -> Autoencoder:
        ae = cls(folder_config(path, train))
        load_weights(ae.vae, path / WEIGHTS)
        return ae

    def save(self, path: str | Path, dtype: torch.dtype = torch.float32) -> None:
        """Write the folder: GlyphVAE's config.json + model.safetensors, or a diffusers folder."""
        path = Path(path)
        if self.glyph:
            self.vae.save(path, float(self.cfg.scaling_factor), dtype)
            return
        self.vae.register_to_config(scaling_factor=float(self.cfg.scaling_factor))
        vae = self.vae if dtype == torch.float32 else _cast_copy(self.vae, dtype)
        vae.save_pretrained(str(path), safe_serialization=True)

    # -- frames <-> latents ----------------------------------------------------------------------
    @property
    def factor(self) -> int:
        return self.cfg.downsample_factor

    def encode(self, video: torch.Tensor, masks: torch.Tensor | None = None, *, sample: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, T, 3, H, W) in [-1, 1] (+ masks (B, T, H, W)) -> scaled latents (B, T, C, h, w)."""
        b, t = video.shape[:2]
        frames = video.flatten(0, 1)
        if self.glyph:
            mean, logvar = self.vae.posterior(frames, None if masks is None else masks.flatten(0, 1))
            z = mean
            if sample:
                z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=generator, device=mean.device)
        else:
            dist = self.vae.encode(frames).latent_dist
            z = dist.sample(generator) if sample else dist.mode()
        return (z * self.cfg.scaling_factor).unflatten(0, (b, t))

    def decode(self, latents: torch.Tensor, masks: torch.Tensor | None = None,
               present: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled latents (B, T, C, h, w) -> frames (B, T, 3, H, W), roughly in [-1, 1].

        ``masks`` (B, T, H, W) is the glyph layout at pixel resolution and ``present`` (B,) flags the
        clips that have one; the ``kl`` kind ignores both."""
        b, t = latents.shape[:2]
        z = latents.flatten(0, 1) / self.cfg.scaling_factor
        if self.glyph:
            m = None if masks is None else masks.flatten(0, 1)
            p = None if (masks is None or present is None) else present.repeat_interleave(t)
            x = self.vae.decode(z, m, p)
        else:
            x = self.vae.decode(z).sample
        return x.unflatten(0, (b, t))

    # -- autoencoder stage loss ------------------------------------------------------------------
    def forward(self, frames: torch.Tensor, masks: torch.Tensor, generator: torch.Generator | None = None):
        """Training forward (what DDP wraps in the autoencoder stage): the reconstruction loss terms."""
        return self.reconstruction_loss(frames, masks, generator)

    def reconstruction_loss(
        self, frames: torch.Tensor, masks: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """frames (N, 3, H, W), masks (N, H, W). L1 + extra weight inside glyph masks (thin strokes) + KL."""
        if self.glyph:
            # Withhold the mask from the decoder for a share of frames (the encoder always has it).
            n, device = frames.shape[0], frames.device
            present = (torch.rand(n, generator=generator, device=device) >= self.cfg.mask_drop_prob).to(frames.dtype)
            mean, logvar = self.vae.posterior(frames, masks)
            std = (0.5 * logvar).exp()
            z = mean + std * torch.randn(mean.shape, generator=generator, device=device, dtype=mean.dtype)
            recon = self.vae.decode(z, masks, present)
            kl = 0.5 * (mean.pow(2) + std.pow(2) - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
        else:
            dist = self.vae.encode(frames).latent_dist
            recon = self.vae.decode(dist.sample(generator)).sample
            kl = dist.kl().mean()
        recon, frames = recon.float(), frames.float()
        err = (recon - frames).abs().mean(1)  # (N, H, W)
        l1 = err.mean()
        glyph = (err * masks).sum() / masks.sum().clamp_min(1.0)
        kl = kl / frames[0].numel()
        total = l1 + self.cfg.mask_weight * glyph + self.cfg.kl_weight * kl
        terms = {"l1": l1.detach(), "glyph_l1": glyph.detach(), "kl": kl.detach()}
        if self.cfg.edge_weight > 0:
            edge = edge_loss(recon, frames, masks)
            total = total + self.cfg.edge_weight * edge
            terms["edge_l1"] = edge.detach()
        return {"loss": total, **terms}

    @torch.no_grad()
    def measure_scaling_factor(self, frames: torch.Tensor, masks: torch.Tensor | None = None) -> float:
        """1 / std of unscaled latents (the LDM recipe, so diffusion sees unit-variance latents)."""
        if self.glyph:
            z = self.vae.posterior(frames, masks)[0]
        else:
            z = self.vae.encode(frames).latent_dist.mode()
        return float(1.0 / z.float().std().clamp_min(1e-6))


TRAINING_FIELDS = ("mask_weight", "kl_weight", "mask_drop_prob", "edge_weight")  # loss settings, not architecture

EDGE_BAND = 3  # pixels around the glyph mask where the edge loss counts: strokes, outlines, shadows, glows


def edge_loss(recon: torch.Tensor, frames: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """L1 between the horizontal and vertical pixel differences of ``recon`` and ``frames`` (N, 3, H, W),
    averaged over the glyph masks (N, H, W) dilated by ``EDGE_BAND`` pixels.

    Plain L1 is content with a blur where it is unsure of an edge's place: a blurred edge misses by
    half the step on both sides, a misplaced sharp one by the whole step on one. At 128 px that blur
    closes the gaps between thin strokes and runs a shadow into its letter (``c`` read as ``o``,
    ``f`` as ``t``). A loss on the differences charges for the contrast the blur takes away, and the
    band keeps it on the letters, not on the background's texture."""
    band = F.max_pool2d(masks[:, None].float(), 2 * EDGE_BAND + 1, stride=1, padding=EDGE_BAND)[:, 0]  # (N, H, W)
    dx = (recon.diff(dim=-1) - frames.diff(dim=-1)).abs().mean(1)  # (N, H, W-1)
    dy = (recon.diff(dim=-2) - frames.diff(dim=-2)).abs().mean(1)  # (N, H-1, W)
    # A difference counts where either of its two pixels is in the band.
    wx = torch.maximum(band[..., 1:], band[..., :-1])
    wy = torch.maximum(band[..., 1:, :], band[..., :-1, :])
    return ((dx * wx).sum() + (dy * wy).sum()) / (wx.sum() + wy.sum()).clamp_min(1.0)


def training_fields(cfg: AutoencoderConfig) -> dict:
    return {k: getattr(cfg, k) for k in TRAINING_FIELDS}


# The AutoencoderKL kinetype builds (and the Stable Diffusion vae/ it can load): RGB in and out,
# SiLU, the plain encoder and decoder blocks, attention in the middle block, both quantisation
# convolutions. A folder saying otherwise would load weights the shape check cannot predict.
KL_FIXED = {"in_channels": 3, "out_channels": 3, "act_fn": "silu", "mid_block_add_attention": True,
            "use_quant_conv": True, "use_post_quant_conv": True}
KL_BLOCKS = {"down_block_types": "DownEncoderBlock2D", "up_block_types": "UpDecoderBlock2D"}


def folder_config(path: str | Path, train: dict | None = None) -> AutoencoderConfig:
    """The architecture of an autoencoder folder (either kind) as a config, without loading weights;
    ``train`` carries the training-only fields (loss weights) over. Each field is checked for its
    type here (one line naming the file and the field); ranges are the model's
    (:func:`kinetype.model.config.model_problem`)."""
    path = Path(path)
    file = path / "config.json"
    if not path.is_dir():
        raise ModelError(f"{path}: not an autoencoder folder (no such folder)")
    raw = read_json_object(file, ModelError)

    def get(key: str, kind: type, default=None):
        value = raw.get(key, default)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not {int: number and isinstance(value, int), float: number}.get(kind, isinstance(value, kind)):
            name = {int: "an integer", float: "a number", list: "a list", str: "a string", bool: "true or false"}[kind]
            raise ModelError(f"{file}: {key} must be {name} (got {value!r})")
        return value

    def ints(key: str) -> tuple[int, ...]:
        values = get(key, list)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ModelError(f"{file}: {key} must be a list of integers (got {values!r})")
        return tuple(values)

    if raw.get("_class_name") == CLASS_NAME:
        groups = get("norm_groups", int)
        arch = dict(kind="glyph", block_out_channels=ints("channels"), layers_per_block=get("layers_per_block", int),
                    latent_channels=get("latent_channels", int), norm_num_groups=groups or 8, glyph_norm=groups > 0,
                    init_logvar=float(get("init_logvar", float)))
        if groups < 0:
            raise ModelError(f"{file}: norm_groups must be 0 (no normalisation) or more (got {groups!r})")
    else:  # a diffusers AutoencoderKL folder
        channels = ints("block_out_channels")
        for key, want in KL_FIXED.items():
            if key in raw and raw[key] != want:
                raise ModelError(f"{file}: {key} must be {want!r} for the AutoencoderKL kinetype builds (got {raw[key]!r})")
        for key, block in KL_BLOCKS.items():
            if raw.get(key) != [block] * len(channels):
                raise ModelError(f"{file}: {key} must be {[block] * len(channels)!r}, one per block_out_channels "
                                 f"(got {raw.get(key)!r})")
        arch = dict(kind="kl", block_out_channels=channels, layers_per_block=get("layers_per_block", int),
                    latent_channels=get("latent_channels", int), norm_num_groups=get("norm_num_groups", int))
    return AutoencoderConfig(**arch, scaling_factor=float(get("scaling_factor", float, 1.0)), path=str(path), **(train or {}))


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Glyph masks (..., H, W) -> coverage at latent resolution (..., h, w) by area averaging."""
    lead = masks.shape[:-2]
    m = F.adaptive_avg_pool2d(masks.reshape(-1, 1, *masks.shape[-2:]).float(), size)
    return m.reshape(*lead, *size)


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:200] if s else ""


def _cast_copy(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    return copy.deepcopy(module).to(dtype)
