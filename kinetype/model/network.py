"""The trainable network: caption encoder + denoiser, one module (what DDP wraps and torch.compile
traces).

An optional second denoiser, the ``interpolator`` (:mod:`kinetype.model.interpolation`), makes the
frames between the denoiser's keyframes; it shares the caption encoder.

``forward`` takes tokenised captions (fixed-length tensors, see :mod:`kinetype.model.text`), so every
parameter that trains is reached inside DDP's forward and the traced graph never depends on what a
caption says. Samplers call :meth:`encode` once and :meth:`denoise` per step.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from kinetype.model.config import ModelConfig
from kinetype.model.denoiser import Context, Denoiser
from kinetype.model.frames import Given
from kinetype.model.interpolation import interpolator_from
from kinetype.model.text import Tokens, build_text_encoder, encode_all


class KineTyNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.text_encoder = build_text_encoder(cfg.text)
        # Cross-attention width is the caption encoder's width: known once the encoder is built.
        self.denoiser = Denoiser(cfg.denoiser, cfg.autoencoder.latent_channels, context_dim=self.text_encoder.dim)
        self.tokenizer = self.text_encoder.tokenizer()
        self.interpolator: Denoiser | None = None  # add_interpolator / kinetype.pipeline.load_network

    def tokenize(self, captions: list[str], fixed_length: bool = True) -> Tokens:
        """Captions -> tokens on the network's device, padded to ``max_tokens`` or (``fixed_length=False``)
        to the longest of them (see :mod:`kinetype.model.text`; the trainer tokenises in its loader)."""
        captions = list(captions)
        length = None if fixed_length else self.tokenizer.shortest_length(captions)
        return self.tokenizer(captions, length).to(self.denoiser.x_embedder.weight.device)

    def encode(self, static: Tokens, dynamic: Tokens | None = None, word: Tokens | None = None) -> Context:
        """The three caption kinds through the shared encoder in one pass; with a motion encoder, the
        static and word captions through the content encoder and the dynamic one through its own."""
        motion = self.text_encoder.motion
        if motion is None:
            ctx = Context(*encode_all(self.text_encoder, static, dynamic, word))
        else:
            static_c, word_c = encode_all(self.text_encoder, static, word)
            ctx = Context(static_c, None if dynamic is None else motion(dynamic), word_c)
        return ctx._replace(colour=static.colour)

    def add_motion_encoder(self) -> None:
        """DEMO's motion encoder added to a model with one shared encoder (started as its copy)."""
        self.text_encoder.add_motion_encoder()
        self.cfg = replace(self.cfg, text=self.text_encoder.cfg)

    def add_given_frames(self, context: bool = False, tokens: int | None = None) -> None:
        """The given-frame planes (and with ``context`` the design context stream) added to a model
        without them (zero weights and gates: unchanged output)."""
        self.denoiser.add_given_frames(context, tokens)
        self.cfg = replace(self.cfg, denoiser=self.denoiser.cfg)

    def add_colour_embedding(self) -> None:
        """The caption colours' embedding added to a model without it (zero output: unchanged)."""
        self.denoiser.add_colour_embedding()
        self.cfg = replace(self.cfg, denoiser=self.denoiser.cfg)

    def add_interpolator(self, inbetweens: int) -> None:
        """An interpolation model of ``inbetweens`` latents per gap, started as this denoiser."""
        self.interpolator = interpolator_from(self.denoiser, inbetweens)

    def denoise(self, x, t, ctx: Context, glyph=None, glyph_present=None, given: Given | None = None) -> torch.Tensor:
        return self.denoiser(x, t, ctx, glyph, glyph_present, given)

    def interpolate(self, x, t, ctx: Context, glyph=None, glyph_present=None, given: Given | None = None) -> torch.Tensor:
        """The interpolator's prediction for gaps x (B, K, n*C, h, w) between the keyframes ``given``."""
        return self.interpolator(x, t, ctx, glyph, glyph_present, given)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C, h, w) noisy latents
        t: torch.Tensor,  # (B,)
        static: Tokens,  # (B, L) each
        dynamic: Tokens | None = None,  # None: image mode
        word: Tokens | None = None,
        glyph: torch.Tensor | None = None,  # (B, T, h, w)
        glyph_present: torch.Tensor | None = None,  # (B,)
        given: Given | None = None,  # latents (B, T, C, h, w) and flags (B, T) of the given frames
        interpolate: bool = False,  # x holds gaps for the interpolator, given their keyframes
    ) -> torch.Tensor:
        denoiser = self.interpolator if interpolate else self.denoiser
        return denoiser(x, t, self.encode(static, dynamic, word), glyph, glyph_present, given)

    def video_parameters(self) -> list[nn.Parameter]:
        """What only the video stage trains: the temporal layers, the word branch, the motion encoder."""
        motion = self.text_encoder.motion
        return self.denoiser.video_parameters() + ([] if motion is None else list(motion.parameters()))
