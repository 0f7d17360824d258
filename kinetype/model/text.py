"""Caption encoders: captions -> (embeddings (B, L, D), key mask (B, L)).

- :class:`ByteTextEncoder` (default): UTF-8 bytes -> a small transformer trained with the model.
  Bytes have no out-of-vocabulary failure, and the word caption ``H^|e|l|l|o`` keeps one token per
  letter, which is what KineTy's delimiter format is for.
- :class:`ClipTextEncoder`: a pretrained CLIP text encoder from a local folder (transformers
  format), frozen, as in the paper. Nothing is fetched from a hub.

One encoder is shared by the static, dynamic and word captions, as in KineTy.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from kinetype.model.config import TextConfig
from kinetype.model.errors import ModelError

PAD, BOS, EOS = 256, 257, 258  # byte ids are 0..255


def tokenize_bytes(captions: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (B, L) long, mask (B, L) bool). BOS + bytes + EOS, cut to ``max_tokens``, right-padded."""
    rows = [[BOS, *list(c.encode("utf-8"))[: max_tokens - 2], EOS] for c in captions]
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, ids != PAD


class ByteTextEncoder(nn.Module):
    """A small pre-norm transformer over bytes (nn.TransformerEncoder runs on SDPA kernels)."""

    trainable = True

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.dim = cfg.width
        self.token_embedding = nn.Embedding(259, cfg.width)
        self.position_embedding = nn.Parameter(torch.randn(cfg.max_tokens, cfg.width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.width, cfg.heads, 4 * cfg.width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(cfg.width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)

    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.position_embedding.device
        ids, mask = tokenize_bytes(captions, self.cfg.max_tokens)
        ids, mask = ids.to(device), mask.to(device)
        x = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]  # (B, L, D)
        x = self.transformer(x, src_key_padding_mask=~mask)
        return self.final_norm(x), mask


class ClipTextEncoder(nn.Module):
    """A frozen transformers ``CLIPTextModel`` + tokenizer from one local folder.

    Like Stable Diffusion, captions are padded to the model's full length and every token is
    attended to (the mask is all ones), so a pretrained SD UNet sees what it was trained on.
    """

    trainable = False

    def __init__(self, cfg: TextConfig):
        super().__init__()
        from transformers import AutoTokenizer, CLIPTextModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        if not cfg.clip_path:
            raise ModelError("text encoder 'clip' needs clip_path: a local folder with a CLIPTextModel and its tokenizer")
        path = Path(cfg.clip_path)
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a CLIP text encoder folder (no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = CLIPTextModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True,
                                                       low_cpu_mem_usage=False)
        except Exception as e:
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            raise ModelError(f"{path}: cannot load the CLIP text encoder ({type(e).__name__}: {msg})") from None
        self.model.requires_grad_(False).eval()
        self.cfg = cfg
        self.dim = int(self.model.config.hidden_size)

    def train(self, mode: bool = True):  # always frozen, always eval
        return super().train(False)

    @torch.no_grad()
    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        max_len = min(self.tokenizer.model_max_length, self.model.config.max_position_embeddings)
        tok = self.tokenizer(captions, padding="max_length", max_length=max_len, truncation=True, return_tensors="pt")
        ids = tok.input_ids.to(device)
        hidden = self.model(input_ids=ids).last_hidden_state
        return hidden, torch.ones(ids.shape, dtype=torch.bool, device=device)


def build_text_encoder(cfg: TextConfig) -> nn.Module:
    if cfg.kind == "byte":
        return ByteTextEncoder(cfg)
    if cfg.kind == "clip":
        return ClipTextEncoder(cfg)
    raise ModelError(f"unknown text encoder {cfg.kind!r}: choose 'byte' or 'clip'")

