"""FLOPs of a training step, counted on the meta device (no memory, no arithmetic: shapes only).

What a step computes, per clip: the network's forward and backward; the glyph loss's decoder on its
clips (forward and backward) and the decoder forward for its target; and, without the latent cache,
the encoder on every frame. ``old=True`` counts the reference step the benchmarks compare against
(no latent cache: the encoder always, and the glyph loss decoding every clip against the decoded
video). ``benchmarks/train_speed.py`` divides by
step time and the device's peak for MFU; ``kinetype train --dry-run`` prints the total.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from kinetype.model import Autoencoder, KineTyNet
from kinetype.model.interpolation import neighbours
from kinetype.model.text import Tokens


def step_flops(cfg, *, old: bool = False, caption_tokens: tuple[int, int, int] | None = None) -> dict[str, float]:
    """FLOPs per clip of one training step of the resolved config ``cfg``, by part; captions of
    ``caption_tokens`` (static, dynamic, word) tokens, by default ``text.max_tokens`` each."""
    b = cfg.data.batch_size
    interp, n = cfg.stage == "interpolation", cfg.inbetweens
    frames = cfg.data.num_frames if cfg.stage in ("video", "interpolation") else 1

    def count(fn) -> float:
        with FlopCounterMode(display=False) as fc:
            fn()
        return float(fc.get_total_flops()) / b

    with torch.device("meta"):
        ae = Autoencoder(cfg.model.autoencoder).requires_grad_(cfg.stage == "autoencoder")
        size, f = cfg.data.size_px, ae.factor
        video = torch.randn(b, frames, 3, size, size)
        masks = torch.rand(b, frames, size, size)
        if cfg.stage == "autoencoder":
            return {"autoencoder": count(lambda: ae(video.flatten(0, 1), masks.flatten(0, 1))["loss"].backward())}
        net = KineTyNet(cfg.model)
        trains_text = cfg.train_text_encoder and net.text_encoder.trainable
        net.text_encoder.requires_grad_(trains_text)
        latent = (ae.cfg.latent_channels, size // f, size // f)
        lengths = caption_tokens or (net.tokenizer.max_tokens,) * 3
        tokens = [Tokens(torch.zeros(b, k, dtype=torch.long), torch.ones(b, k, dtype=torch.bool)) for k in lengths]
        captions = (tokens[0], *((tokens[1], tokens[2]) if frames > 1 else (None, None)))
        if interp:  # the interpolator on the clip's gaps, given their keyframes (the keyframe model frozen)
            net.requires_grad_(False)
            net.add_interpolator(n)
            gaps = frames // (n + 1)
            given = neighbours(torch.randn(b, gaps, *latent))
            x, glyph = torch.randn(b, gaps, n * latent[0], *latent[1:]), torch.rand(b, gaps, n, *latent[1:])
        else:
            given, x, glyph = None, torch.randn(b, frames, *latent), torch.rand(b, frames, *latent[1:])
        parts = {"network": count(lambda: net(x, torch.rand(b), *captions, glyph, torch.ones(b), given,
                                              interp).sum().backward())}
        if old or not cfg.data.latent_cache:
            parts["encoder"] = count(lambda: ae.encode(video, masks))
        glyph_frames = min(cfg.loss.glyph_frames, frames // (n + 1) * n if interp else frames)  # in-betweens only
        glyph_clips = b if old else min(cfg.loss.glyph_clips, b)
        if cfg.loss.glyph_weight > 0:
            z = torch.randn(glyph_clips, glyph_frames, *latent, requires_grad=True)
            m = torch.rand(glyph_clips, glyph_frames, size, size)
            parts["glyph decode"] = count(lambda: ae.decode(z, m, torch.ones(glyph_clips)).sum().backward())
            if not old:
                parts["glyph target"] = count(lambda: ae.decode(z.detach(), m, torch.ones(glyph_clips)))
    return parts
