"""A small KL autoencoder whose decoder also sees the full-resolution glyph layout (kinetype's own).

Why: letters are thin, high-frequency shapes, and a latent 8x smaller than the frame cannot carry
their edges cheaply; on a CPU budget the diffusers ``AutoencoderKL`` spent its capacity on them and
lost the colours (held-out L1 0.536 after 80 steps against 0.249 here, same widths;
``benchmarks/autoencoder_recipe.py``). Here the decoder is given the engine's glyph mask at every resolution (as
SPADE / ControlNet-style spatial conditioning), so the latent only has to carry what the mask does
not: colours, fills, backgrounds, effects. Edges come out as crisp as the mask at any latent size.

The mask is optional: a per-frame flag says whether it is given, and training drops it for a share
of frames, so the same decoder also reconstructs (blurrier) letters from the latent alone — the
path text-only generation uses.

Shapes: frames (N, 3, H, W) in [-1, 1]; masks (N, H, W) in [0, 1]; latents (N, C, H/f, W/f),
f = 2 ** (len(channels) - 1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kinetype.errors import KinetypeError
from kinetype.jsonfile import read_json_object
from kinetype.model.weights import save_weights

CLASS_NAME = "KinetypeGlyphVAE"
WEIGHTS = "model.safetensors"
MASK_CHANNELS = 2  # coverage x flag, flag
POOLED_CHANNELS = 7  # text colour (3), background colour (3), text coverage (1) per latent cell


@dataclass(frozen=True)
class GlyphVAEShape:
    channels: tuple[int, ...] = (32, 64, 128, 128)  # per resolution, full size first
    layers_per_block: int = 1
    latent_channels: int = 4
    # GroupNorm groups, 0 = no normalisation (the default). GroupNorm normalises each frame's
    # features by their own mean and variance; in the first version of this autoencoder (no pooled
    # colours, no compositing) reconstructions with it kept the letters and lost every colour. With
    # the colour path below the loss is small, but no normalisation still reconstructs better at the
    # same cost (held-out L1 0.249 against 0.303; benchmarks/autoencoder_recipe.py), and residual
    # blocks start as the identity instead.
    norm_groups: int = 0
    # Initial log-variance of the posterior. diffusers starts at 0 (std 1): the noise then swamps
    # latents whose mean starts near 0, and the decoder learns nothing but the mean colour until
    # the tiny KL term lets the encoder shrink it. Starting at std e^-3 ~ 0.05 removes that stall.
    init_logvar: float = -6.0


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = _norm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _norm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        if not groups:  # no normalisation: the block starts as the identity (Fixup-style)
            nn.init.zeros_(self.conv2.weight)
            nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


def _norm(groups: int, channels: int) -> nn.Module:
    return nn.GroupNorm(_groups(groups, channels), channels, eps=1e-6) if groups else nn.Identity()


def _groups(groups: int, channels: int) -> int:
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return g


def mask_planes(masks: torch.Tensor | None, present: torch.Tensor | None, n: int, size: tuple[int, int],
                like: torch.Tensor) -> torch.Tensor:
    """(N, 2, h, w): the mask's area coverage at ``size`` times the flag, and the flag itself."""
    if masks is None:
        return like.new_zeros(n, MASK_CHANNELS, *size)
    m = masks.to(like.dtype)[:, None]
    if m.shape[-2:] != size:
        m = F.adaptive_avg_pool2d(m, size)
    flag = like.new_ones(n, 1, 1, 1) if present is None else present.to(like.dtype).view(n, 1, 1, 1)
    return torch.cat([m * flag, flag.expand_as(m)], dim=1)


class GlyphVAE(nn.Module):
    """Encoder (frame + mask -> posterior) and glyph-conditioned decoder (latent + mask -> frame)."""

    def __init__(self, shape: GlyphVAEShape):
        super().__init__()
        self.shape = shape
        ch, g, c = list(shape.channels), shape.norm_groups, shape.latent_channels
        # Encoder: the mask helps it spend the latent on colour rather than on finding the letters.
        self.enc_in = nn.Conv2d(3 + MASK_CHANNELS, ch[0], 3, padding=1)
        self.enc_blocks = nn.ModuleList()
        self.enc_down = nn.ModuleList()
        cur = ch[0]
        for i, co in enumerate(ch):
            blocks = []
            for _ in range(shape.layers_per_block):
                blocks.append(ResBlock(cur, co, g))
                cur = co
            self.enc_blocks.append(nn.Sequential(*blocks))
            if i < len(ch) - 1:
                self.enc_down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
        self.enc_norm = _norm(g, cur)
        # + the mean colour of the text and of the background in each latent cell, and the text's
        # coverage: colour reaches the latent by a linear path from the first step.
        self.enc_out = nn.Conv2d(cur + POOLED_CHANNELS, 2 * c, 3, padding=1)  # mean, log-variance
        with torch.no_grad():
            self.enc_out.weight[c:].zero_()
            self.enc_out.bias[c:].fill_(shape.init_logvar)

        # Decoder: coarse to fine; every level concatenates the mask planes at its own resolution.
        self.dec_in = nn.Conv2d(c, ch[-1], 3, padding=1)
        self.dec_blocks = nn.ModuleList()
        self.dec_up = nn.ModuleList()
        cur = ch[-1]
        for i, co in reversed(list(enumerate(ch))):
            blocks = []
            for k in range(shape.layers_per_block + 1):
                blocks.append(ResBlock(cur + (MASK_CHANNELS if k == 0 else 0), co, g))
                cur = co
            self.dec_blocks.append(nn.ModuleList(blocks))
            if i > 0:
                self.dec_up.append(nn.Conv2d(cur, cur, 3, padding=1))
        self.dec_norm = _norm(g, cur)
        # Composite: a text colour and a background colour read linearly off the latent (upsampled),
        # mixed by an alpha that starts as the glyph mask; the convolutional path adds what
        # compositing cannot draw (outlines, shadows, textures). Its last layer starts at zero.
        self.colour_head = nn.Conv2d(c, 6, 1)
        self.alpha = nn.Conv2d(cur + MASK_CHANNELS, 1, 3, padding=1)
        nn.init.zeros_(self.alpha.weight)
        nn.init.zeros_(self.alpha.bias)
        self.dec_out = nn.Sequential(nn.Conv2d(cur + MASK_CHANNELS, cur, 3, padding=1), nn.SiLU(),
                                     nn.Conv2d(cur, 3, 3, padding=1))
        nn.init.zeros_(self.dec_out[-1].weight)
        nn.init.zeros_(self.dec_out[-1].bias)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.shape.channels) - 1)

    def posterior(self, frames: torch.Tensor, masks: torch.Tensor | None, present: torch.Tensor | None = None):
        """(mean, logvar), each (N, C, h, w)."""
        n = frames.shape[0]
        h = self.enc_in(torch.cat([frames, mask_planes(masks, present, n, frames.shape[-2:], frames)], dim=1))
        for i, blocks in enumerate(self.enc_blocks):
            h = blocks(h)
            if i < len(self.enc_down):
                h = self.enc_down[i](h)
        pooled = pooled_colours(frames, masks, h.shape[-2:])
        mean, logvar = self.enc_out(torch.cat([F.silu(self.enc_norm(h)), pooled], dim=1)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor, masks: torch.Tensor | None, present: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, h, w) -> (N, 3, H, W)."""
        n, f = z.shape[0], self.factor
        size = (z.shape[-2] * f, z.shape[-1] * f)
        h = self.dec_in(z)
        for i, blocks in enumerate(self.dec_blocks):
            h = torch.cat([h, mask_planes(masks, present, n, h.shape[-2:], h)], dim=1)
            for block in blocks:
                h = block(h)
            if i < len(self.dec_up):
                h = self.dec_up[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = F.silu(self.dec_norm(h))
        planes = mask_planes(masks, present, n, size, h)  # (N, 2, H, W)
        h = torch.cat([h, planes], dim=1)
        text, back = F.interpolate(self.colour_head(z), size=size, mode="bilinear", align_corners=False).chunk(2, dim=1)
        # alpha logit: +-6 at the given mask (0 where it is withheld), corrected by the network.
        alpha = torch.sigmoid(self.alpha(h) + 12.0 * (planes[:, :1] - 0.5 * planes[:, 1:]))
        return alpha * text + (1 - alpha) * back + self.dec_out(h)

    # -- folder format: config.json + model.safetensors ---------------------------------------------
    def save(self, path: Path, scaling_factor: float, dtype: torch.dtype = torch.float32) -> None:
        path.mkdir(parents=True, exist_ok=True)
        cfg = {"_class_name": CLASS_NAME, **asdict(self.shape), "scaling_factor": scaling_factor}
        (path / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        save_weights(self.state_dict(), path / WEIGHTS, dtype)


def pooled_colours(frames: torch.Tensor, masks: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
    """(N, 7, h, w): mean text colour, mean background colour, text coverage per cell of ``size``.

    Where a cell has no text (or no background) its colour is the cell's overall mean. Without a
    mask the whole frame counts as background."""
    n = frames.shape[0]
    m = frames.new_zeros(n, 1, *frames.shape[-2:]) if masks is None else masks.to(frames.dtype)[:, None]
    pool = lambda a: F.adaptive_avg_pool2d(a, size)  # noqa: E731
    cover, mean = pool(m), pool(frames)
    text = torch.where(cover > 1e-3, pool(frames * m) / cover.clamp_min(1e-3), mean)
    back = torch.where(cover < 1 - 1e-3, pool(frames * (1 - m)) / (1 - cover).clamp_min(1e-3), mean)
    return torch.cat([text, back, cover], dim=1)


def is_glyph_vae_folder(path: Path) -> bool:
    try:
        return read_json_object(path / "config.json").get("_class_name") == CLASS_NAME
    except KinetypeError:  # not a regular, readable JSON object: not this kind (the reader says what it is)
        return False
