"""Caption encoders: captions -> fixed-length tokens -> (embeddings (B, L, D), key mask (B, L)).

Tokenising is apart from encoding. The trainer's loader workers tokenise (each encoder's
``tokenizer()`` is picklable), so a training step receives tensors, never strings, and nothing per
caption runs on the host during the step. A compiled network gets every caption padded to
``max_tokens``, one fixed shape, so ``torch.compile`` traces it once whatever the captions say; an
eager one gets the batch's captions padded only to the longest of them (rounded up to 8), because
padded keys still cost attention: on the `cpu` preset's video step, 256 tokens instead of 48 made
the network's forward and backward 1.46x slower.

- :class:`ByteTextEncoder` (default): UTF-8 bytes -> a small transformer trained with the model.
  Bytes have no out-of-vocabulary failure, and the word caption ``H^|e|l|l|o`` keeps one token per
  letter, which is what KineTy's delimiter format is for.
- :class:`ClipTextEncoder`: a pretrained CLIP text encoder from a local folder (transformers
  format), frozen, as in the paper. Nothing is fetched from a hub.

One encoder is shared by the static, dynamic and word captions, as in KineTy; :meth:`encode_all`
runs them through it in one pass. With ``TextConfig.motion_encoder`` the byte encoder holds a second
transformer, ``motion``, for the dynamic caption (DEMO, arXiv 2410.24219, Sec. 3.1: a content encoder
biased to nouns and appearance, a motion encoder free to learn what "bounce" or "from the left" mean).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from kinetype.model.colours import caption_colours
from kinetype.model.config import TextConfig
from kinetype.model.errors import ModelError

PAD, BOS, EOS = 256, 257, 258  # byte ids are 0..255


class Tokens(NamedTuple):
    """Tokenised captions: ``ids`` (B, L) long and ``mask`` (B, L) bool (True = a real token), and
    the colours they name, ``colour`` (B, COLOUR_DIM) (:mod:`kinetype.model.colours`; the static
    caption's reach a denoiser with a colour embedding)."""

    ids: torch.Tensor
    mask: torch.Tensor
    colour: torch.Tensor | None = None

    def to(self, device, non_blocking: bool = False) -> Tokens:
        return Tokens(*(None if a is None else a.to(device, non_blocking=non_blocking) for a in self))


class Caption(NamedTuple):
    """An encoded caption: ``embeddings`` (B, L, D) and the key ``mask`` (B, L) bool."""

    embeddings: torch.Tensor
    mask: torch.Tensor


class ByteTokenizer:
    """BOS + UTF-8 bytes + EOS, cut to ``max_tokens`` and right-padded to ``length`` (default ``max_tokens``)."""

    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens

    def shortest_length(self, captions: list[str], multiple: int = 8) -> int:
        """The length that holds the longest of ``captions``, rounded up to ``multiple``."""
        longest = max((len(c.encode("utf-8")) + 2 for c in captions), default=2)
        return min(self.max_tokens, -(-longest // multiple) * multiple)

    def __call__(self, captions: list[str], length: int | None = None) -> Tokens:
        length = length or self.max_tokens
        ids = torch.full((len(captions), length), PAD, dtype=torch.long)
        for i, c in enumerate(captions):
            row = [BOS, *c.encode("utf-8")[: min(length, self.max_tokens) - 2], EOS]
            ids[i, : len(row)] = torch.tensor(row)
        return Tokens(ids, ids != PAD, caption_colours(captions))


class ClipTokenizer:
    """A local CLIP tokenizer, padded to the model's full length (every token attended to, as SD)."""

    def __init__(self, tokenizer, max_tokens: int):  # tokenizer: a transformers CLIP tokenizer
        self.tokenizer, self.max_tokens = tokenizer, max_tokens

    def shortest_length(self, captions: list[str], multiple: int = 8) -> int:
        return self.max_tokens  # a pretrained CLIP sees full-length captions, as in training

    def __call__(self, captions: list[str], length: int | None = None) -> Tokens:
        tok = self.tokenizer(captions, padding="max_length", max_length=self.max_tokens, truncation=True,
                             return_tensors="pt")
        return Tokens(tok.input_ids, torch.ones(tok.input_ids.shape, dtype=torch.bool), caption_colours(captions))


class ByteTextEncoder(nn.Module):
    """A small pre-norm transformer over bytes (nn.TransformerEncoder runs on SDPA kernels)."""

    trainable = True

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.dim = cfg.width
        # The motion encoder: the same architecture under "motion." (None: one shared encoder).
        self.motion = ByteTextEncoder(replace(cfg, motion_encoder=False)) if cfg.motion_encoder else None
        self.token_embedding = nn.Embedding(259, cfg.width)
        self.position_embedding = nn.Parameter(torch.randn(cfg.max_tokens, cfg.width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.width, cfg.heads, 4 * cfg.width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(cfg.width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)

    def tokenizer(self) -> ByteTokenizer:
        return ByteTokenizer(self.cfg.max_tokens)

    def add_motion_encoder(self) -> None:
        """Give the dynamic caption its own encoder, started as a copy of this one (DEMO initialises
        its motion encoder from the pretrained text encoder), so the model's output is unchanged."""
        if self.motion is not None:
            return
        self.cfg = replace(self.cfg, motion_encoder=True)
        motion = ByteTextEncoder(replace(self.cfg, motion_encoder=False))
        motion.load_state_dict(self.state_dict())
        self.motion = motion.to(self.token_embedding.weight.device).requires_grad_(self.token_embedding.weight.requires_grad)

    def forward(self, tokens: Tokens) -> Caption:
        x = self.token_embedding(tokens.ids) + self.position_embedding[: tokens.ids.shape[1]]  # (B, L, D)
        with attention_kernels(x):
            x = self.transformer(x, src_key_padding_mask=~tokens.mask)
        return Caption(self.final_norm(x), tokens.mask)


class ClipTextEncoder(nn.Module):
    """A frozen transformers ``CLIPTextModel`` (and its tokenizer) from one local folder."""

    trainable = False
    motion = None  # one frozen encoder for every caption

    def __init__(self, cfg: TextConfig):
        super().__init__()
        # transformers only for this encoder, imported here: about 1 s of start-up (measured beside
        # torch on the 2-core machine) that the byte encoder, the bundled model's, never needs.
        from transformers import AutoTokenizer, CLIPTextModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        if cfg.motion_encoder:
            raise ModelError("text.motion_encoder needs the byte text encoder (a trainable copy of CLIP is not built)")
        if not cfg.clip_path:
            raise ModelError("text encoder 'clip' needs clip_path: a local folder with a CLIPTextModel and its tokenizer")
        path = Path(cfg.clip_path)
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a CLIP text encoder folder (no config.json)")
        try:
            self.model = CLIPTextModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True,
                                                       low_cpu_mem_usage=False)
            hf_tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except Exception as e:
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            raise ModelError(f"{path}: cannot load the CLIP text encoder ({type(e).__name__}: {msg})") from None
        length = min(hf_tokenizer.model_max_length, self.model.config.max_position_embeddings)
        self._tokenizer = ClipTokenizer(hf_tokenizer, length)
        self.model.requires_grad_(False).eval()
        self.cfg = cfg
        self.dim = int(self.model.config.hidden_size)

    @property
    def hf_tokenizer(self):
        """The transformers tokenizer (saved beside the model in a pipeline folder)."""
        return self._tokenizer.tokenizer

    def tokenizer(self) -> ClipTokenizer:
        return self._tokenizer

    def train(self, mode: bool = True):  # always frozen, always eval
        return super().train(False)

    @torch.no_grad()
    def forward(self, tokens: Tokens) -> Caption:
        return Caption(self.model(input_ids=tokens.ids).last_hidden_state, tokens.mask)


def attention_kernels(x: torch.Tensor):
    """SDPA's plain (math) kernels where the fused one is slow: on the CPU in bfloat16 its backward
    pass (see :func:`kinetype.model.attention.attend`; here 3% of the `cpu` preset's video step)."""
    cpu_bf16 = x.device.type == "cpu" and (x.dtype == torch.bfloat16 or torch.is_autocast_enabled("cpu"))
    return sdpa_kernel(SDPBackend.MATH) if cpu_bf16 else contextlib.nullcontext()


def build_text_encoder(cfg: TextConfig) -> nn.Module:
    if cfg.kind == "byte":
        return ByteTextEncoder(cfg)
    if cfg.kind == "clip":
        return ClipTextEncoder(cfg)
    raise ModelError(f"unknown text encoder {cfg.kind!r}: choose 'byte' or 'clip'")


def encode_all(encoder: nn.Module, *tokens: Tokens | None) -> list[Caption | None]:
    """Encode several caption kinds (static, dynamic, word...) of one batch in one pass through the
    shared encoder; ``None`` stays ``None``. Kinds of different lengths are padded to the longest for
    the pass (padding is masked out of the encoder's attention) and cut back to their own after it,
    so each kind's keys cost the denoiser's cross-attention only its own length."""
    given = [t for t in tokens if t is not None]
    if not given:
        return [None] * len(tokens)
    length = max(t.ids.shape[1] for t in given)  # only byte tokens differ in length (CLIP's are all full)
    ids = torch.cat([F.pad(t.ids, (0, length - t.ids.shape[1]), value=PAD) for t in given])
    mask = torch.cat([F.pad(t.mask, (0, length - t.mask.shape[1]), value=False) for t in given])
    caption = encoder(Tokens(ids, mask))
    rows = iter(zip(caption.embeddings.split([t.ids.shape[0] for t in given]), given))
    out = []
    for t in tokens:
        if t is None:
            out.append(None)
            continue
        emb, own = next(rows)
        out.append(Caption(emb[:, : own.ids.shape[1]], own.mask))
    return out
