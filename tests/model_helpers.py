"""Tiny random models as local folders, for tests and benchmarks (nothing is fetched from a hub).

- :func:`tiny_autoencoder_folder`: a diffusers ``AutoencoderKL`` with the ``tiny`` preset's shape.
- :func:`tiny_clip_folder`: a transformers ``CLIPTextModel`` + ``CLIPTokenizer`` with a byte-level
  vocabulary and no merges (so every caption tokenizes), a stand-in for a real CLIP folder.
- :func:`tiny_pipeline_folder`: a complete random pipeline folder (what ``kinetype train`` exports).
"""

from __future__ import annotations

import json
from pathlib import Path


def tiny_autoencoder_folder(path: str | Path, seed: int = 0) -> Path:
    import torch

    from kinetype.model import Autoencoder
    from kinetype.model.presets import model_preset

    torch.manual_seed(seed)
    Autoencoder(model_preset("tiny").autoencoder).save(path)
    return Path(path)


def tiny_clip_folder(path: str | Path, hidden_size: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    # Byte-level BPE vocabulary without merges: every byte and its end-of-word form.
    chars = list(_bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"), model_max_length=32)
    tok.save_pretrained(str(path))
    torch.manual_seed(seed)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=32,
                         bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                         pad_token_id=vocab["<|endoftext|>"])
    CLIPTextModel(cfg).save_pretrained(str(path), safe_serialization=True)
    return path


def tiny_pipeline_folder(path: str | Path, *, seed: int = 0, num_frames: int = 4, objective: str = "flow",
                         clip: Path | None = None, given_frames: bool = False, inbetweens: int = 0) -> Path:
    """A random ``tiny`` pipeline; zero-initialised branches get small random weights so every
    input (all three captions, the glyph layout, given frames where it has them) changes the output.
    ``inbetweens``: with an interpolator of that many frames per gap (keyframe planes and temporal
    convolutions random too)."""
    import torch

    from kinetype.model import Autoencoder, KineTyNet
    from kinetype.model.config import TextConfig
    from kinetype.model.presets import model_preset
    from kinetype.pipeline import Pipeline

    torch.manual_seed(seed)
    cfg = model_preset("tiny")
    cfg.objective = objective
    if clip is not None:
        cfg.text = TextConfig(kind="clip", clip_path=str(clip))
    net = KineTyNet(cfg)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("word_out.weight", "temporal.proj_out.weight")) or ".temporal.proj_out." in name:
                p.normal_(0, 0.02)
        if given_frames:
            net.add_given_frames()
            net.denoiser.x_embedder.weight[:, -(cfg.autoencoder.latent_channels + 1):].normal_(0, 0.1)
        if inbetweens:
            net.add_interpolator(inbetweens)
            inter = net.interpolator
            inter.x_embedder.weight[:, -inter.given_channels:].normal_(0, 0.1)
            for name, p in inter.named_parameters():
                if ".temporal_conv.conv." in name:
                    p.normal_(0, 0.02)
    ae = Autoencoder(cfg.autoencoder)
    pipe = Pipeline(net.eval(), ae.eval(), objective=objective, stage="video", size_px=32, num_frames=num_frames, fps=8)
    return pipe.save_pretrained(path)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))
