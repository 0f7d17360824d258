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
import math
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


DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def read_header(file: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a safetensors header, without reading the tensors; the
    header's byte ranges are checked against the file: each tensor's range holds exactly its
    elements, the ranges tile the data with no gap or overlap, and the file ends where they end (a
    copy cut short, or bytes appended, is refused here rather than by the loader's own error)."""
    try:
        size_on_disk = file.stat().st_size
        with open(file, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER_BYTES or 8 + size > size_on_disk:
                raise ValueError(f"a header of {size} bytes in a file of {size_on_disk}")
            header = json.loads(f.read(size))
        tensors = {name: info for name, info in header.items() if name != "__metadata__"}
        out = {name: (str(info["dtype"]), tuple(int(n) for n in info["shape"])) for name, info in tensors.items()}
        spans = sorted((int(info["data_offsets"][0]), int(info["data_offsets"][1]), name) for name, info in tensors.items())
    except FileNotFoundError:
        raise ModelError(f"{file}: missing weights file") from None
    except (OSError, struct.error, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as e:
        raise ModelError(f"{file}: corrupt weights (not a safetensors header: {_first_line(e) or type(e).__name__})") from None
    at = 0
    for begin, end, name in spans:
        dtype, shape = out[name]
        want = math.prod(shape) * DTYPE_BYTES.get(dtype, 0)
        if begin != at or end - begin != want:
            raise ModelError(f"{file}: corrupt weights (tensor {name!r} spans bytes {begin}..{end}, its "
                             f"{dtype} {list(shape)} needs {want} starting at {at})")
        at = end
    if 8 + size + at != size_on_disk:
        raise ModelError(f"{file}: corrupt weights ({size_on_disk} bytes where the header describes {8 + size + at}: "
                         "cut short or appended to)")
    return out


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
