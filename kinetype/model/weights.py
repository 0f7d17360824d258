"""Weights files: safetensors in, checked (present, readable, finite, matching), never a pickle.

A model folder records each weights file's SHA-256 (``model_index.json``); :func:`verify_digests`
checks them before anything is loaded, so a flipped byte is refused in one line instead of loading
as a subtly different model, and a weights file the index does not list is refused rather than
loaded unchecked. :func:`check_header` reads a file's header alone (names, dtypes, shapes): integer
or bool tensors, and shapes that differ from what the config builds, are refused before any model
is built. A NaN weight is refused too: it would decode every clip to black.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
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


FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")  # safetensors' names
MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit


def verify_digests(folder: Path, expected: dict[str, str]) -> None:
    """Raise a one-line ModelError if a recorded weights file is missing or its bytes changed, or
    a weights file in the folder is not recorded (it would load unchecked)."""
    index = folder / "model_index.json"
    for file in weight_files(folder):
        rel = file.relative_to(folder).as_posix()
        if rel not in expected:
            raise ModelError(f"{file}: weights file not listed in {index} (sha256): unchecked weights are not loaded; "
                             "re-export the folder, or remove the file")
    for rel, digest in sorted(expected.items()):
        file = folder / rel
        if not file.is_file():
            raise ModelError(f"{file}: missing weights file (listed in {folder / 'model_index.json'})")
        if sha256_file(file) != digest:
            raise ModelError(f"{file}: corrupt weights (its SHA-256 differs from model_index.json: damaged or changed after export)")


def read_header(file: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a safetensors header, without reading the tensors."""
    try:
        with open(file, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"a header of {size} bytes")
            header = json.loads(f.read(size))
        return {name: (str(info["dtype"]), tuple(int(n) for n in info["shape"]))
                for name, info in header.items() if name != "__metadata__"}
    except FileNotFoundError:
        raise ModelError(f"{file}: missing weights file") from None
    except (OSError, struct.error, ValueError, TypeError, KeyError, AttributeError) as e:
        raise ModelError(f"{file}: corrupt weights (not a safetensors header: {_first_line(e) or type(e).__name__})") from None


def check_header(file: Path, expected: dict[str, tuple[int, ...]] | None = None) -> None:
    """Refuse, in one line naming the tensor, a weights file holding a tensor that is not floating
    point, or (given the shapes the config builds) a missing, extra or differently shaped one."""
    header = read_header(file)
    for name, (dtype, _) in sorted(header.items()):
        if dtype not in FLOAT_DTYPES:
            raise ModelError(f"{file}: weight {name!r} is {dtype}, not floating point: not weights of this model")
    if expected is None:
        return
    for name, shape in sorted(expected.items()):
        if name not in header:
            raise ModelError(f"{file}: weight {name!r} is missing: the weights do not match the config")
        if header[name][1] != tuple(shape):
            raise ModelError(f"{file}: weight {name!r} has shape {list(header[name][1])}, the config builds "
                             f"{list(shape)}: the weights do not match the config")
    extra = sorted(set(header) - set(expected))
    if extra:
        raise ModelError(f"{file}: weight {extra[0]!r} is not in the model the config builds"
                         + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))


def save_weights(state: dict[str, torch.Tensor], file: Path, dtype: torch.dtype = torch.float32) -> None:
    """A state dict to safetensors, floating-point tensors in ``dtype`` (float16 halves the bytes)."""
    save_file({k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in state.items()},
              str(file))


def load_weights(module: nn.Module, file: Path) -> None:
    """Load a safetensors file into ``module`` (strict), in the module's dtype; refuse non-finite weights."""
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
