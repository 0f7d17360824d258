"""Weights files: safetensors in, checked (present, readable, finite, matching), never a pickle.

A model folder records each weights file's SHA-256 (``model_index.json``); :func:`verify_digests`
checks them before anything is loaded, so a flipped byte is refused in one line instead of loading
as a subtly different model. A NaN weight is refused too: it would decode every clip to black.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from kinetype.model.errors import ModelError


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weight_files(folder: Path) -> list[Path]:
    """Every ``*.safetensors`` under ``folder``, sorted (relative order is stable across machines)."""
    return sorted(folder.rglob("*.safetensors"))


def digests(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every weights file of a model folder."""
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in weight_files(folder)}


def verify_digests(folder: Path, expected: dict[str, str]) -> None:
    """Raise a one-line ModelError if a recorded weights file is missing or its bytes changed."""
    for rel, digest in sorted(expected.items()):
        file = folder / rel
        if not file.is_file():
            raise ModelError(f"{file}: missing weights file (listed in {folder / 'model_index.json'})")
        if sha256_file(file) != digest:
            raise ModelError(f"{file}: corrupt weights (its SHA-256 differs from model_index.json: damaged or changed after export)")


def save_weights(state: dict[str, torch.Tensor], file: Path, dtype: torch.dtype = torch.float32) -> None:
    """A state dict to safetensors, floating-point tensors in ``dtype`` (float16 halves the bytes)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in state.items()},
              str(file))


def load_weights(module: nn.Module, file: Path) -> None:
    """Load a safetensors file into ``module`` (strict), in the module's dtype; refuse non-finite weights."""
    from safetensors.torch import load_file

    if not file.is_file():
        raise ModelError(f"{file}: missing weights file")
    try:
        state = load_file(str(file))
    except Exception as e:  # safetensors raises its own error types for truncated or garbled files
        raise ModelError(f"{file}: corrupt weights ({type(e).__name__}: {_first_line(e)})") from None
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{file}: weight {name!r} has non-finite values (NaN or inf): the model is damaged")
    own = module.state_dict()
    state = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() else v for k, v in state.items()}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{file}: weights do not match the config ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:160] if s else ""
