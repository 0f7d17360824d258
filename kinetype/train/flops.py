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
from kinetype.model.text import Tokens


def step_flops(cfg, *, old: bool = False, caption_tokens: tuple[int, int, int] | None = None) -> dict[str, float]:
    """FLOPs per clip of one training step of the resolved config ``cfg``, by part; captions of
    ``caption_tokens`` (static, dynamic, word) tokens, by default ``text.max_tokens`` each."""
    b = cfg.data.batch_size
    frames = cfg.data.num_frames if cfg.stage == "video" else 1

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
        x = torch.randn(b, frames, *latent)
        lengths = caption_tokens or (net.tokenizer.max_tokens,) * 3
        tokens = [Tokens(torch.zeros(b, n, dtype=torch.long), torch.ones(b, n, dtype=torch.bool)) for n in lengths]
        video_stage = cfg.stage == "video"
        captions = (tokens[0], tokens[1] if video_stage else None, tokens[2] if video_stage else None)
        parts = {"network": count(lambda: net(x, torch.rand(b), *captions, torch.rand(b, frames, *latent[1:]),
                                              torch.ones(b)).sum().backward())}
        if old or not cfg.data.latent_cache:
            parts["encoder"] = count(lambda: ae.encode(video, masks))
        glyph_frames = min(cfg.loss.glyph_frames, frames)
        glyph_clips = b if old else min(cfg.loss.glyph_clips, b)
        if cfg.loss.glyph_weight > 0:
            z = torch.randn(glyph_clips, glyph_frames, *latent, requires_grad=True)
            m = torch.rand(glyph_clips, glyph_frames, size, size)
            parts["glyph decode"] = count(lambda: ae.decode(z, m, torch.ones(glyph_clips)).sum().backward())
            if not old:
                parts["glyph target"] = count(lambda: ae.decode(z.detach(), m, torch.ones(glyph_clips)))
    return parts
