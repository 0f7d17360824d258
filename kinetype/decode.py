"""Decoding a sample's clip to tensors: H.264 MP4 bytes -> yuv420p planes -> RGB video.

The loader's time is H.264 decoding plus everything after it, so everything after it is a few
passes over memory:

1. :func:`decode_yuv420` copies each wanted frame's Y, U and V planes straight into preallocated
   uint8 tensors (no per-frame arrays, no ``np.stack``);
2. :func:`yuv420_to_rgb` converts them in torch, to one of three output types:

   - ``float32`` (the loader's contract) and ``float16``: RGB in [-1, 1]. The chroma terms of the
     colour matrix are one small matmul at half resolution; each output channel is then a single
     fused ``add(terms, Y, alpha=luma scale)`` over contiguous rows (the 2x2 chroma block is
     broadcast over row pairs, the column pairs were repeated at half size), and one clamp.
   - ``uint8``: RGB in [0, 255] in 16-bit fixed point (5 fractional bits), a quarter of the bytes
     of float32 for the trip to the GPU, where ``x.float().div_(127.5).sub_(1)`` gives the float
     video back (within one level of rounding, tested).

Colour: BT.709 or BT.601 (as tagged; untagged is taken as BT.601), limited or full range.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Sequence

import av
import numpy as np
import torch

from kinetype.shards.sample import SampleError

VIDEO_DTYPES = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}

# YUV -> RGB, rows R, G, B; columns Y, U, V (ITU-R BT.601 / BT.709).
_YUV2RGB = {
    "bt601": torch.tensor([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]]),
    "bt709": torch.tensor([[1.0, 0.0, 1.5748], [1.0, -0.187324, -0.468124], [1.0, 1.8556, 0.0]]),
}
FIXED_BITS = 5  # fractional bits of the uint8 path: |Y, U, V terms| * 32 stays inside int16


# Temporaries (planes, chroma terms, int16 accumulators) are kept per thread and reused: a fresh
# multi-megabyte tensor costs a page fault per 4 KiB on first touch, which measured as much as the
# arithmetic. Only the returned video is newly allocated (or written into the caller's ``out``).
_workspace = threading.local()


def _scratch(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    buffers = _workspace.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[name] = torch.empty(shape, dtype=dtype)
    return buf


def video_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """'float32' | 'float16' | 'uint8' (or the torch dtype) -> the torch dtype; anything else raises."""
    for name, value in VIDEO_DTYPES.items():
        if dtype == name or dtype == value:
            return value
    raise ValueError(f"dtype must be one of {', '.join(map(repr, VIDEO_DTYPES))}, got {dtype!r}")


@dataclass
class YUV420:
    """Decoded frames as planes: ``y`` (T, H, W) uint8, ``uv`` (T, 2, H/2, W/2) uint8."""

    y: torch.Tensor
    uv: torch.Tensor
    bt709: bool
    full_range: bool


def _plane(plane) -> np.ndarray:
    """A frame plane as an (h, w) uint8 view of PyAV's buffer (rows may be padded to line_size)."""
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: plane.height, : plane.width]


def decode_yuv420(data: bytes, frame_indices: Sequence[int], reuse_buffers: bool = False) -> YUV420:
    """The frames ``frame_indices`` (in that order, repeats allowed) of an MP4 as yuv420p planes.

    ``reuse_buffers``: the planes live in this thread's workspace and are overwritten by the next
    call (for :func:`decode_video`, which converts them at once).
    """
    indices = [int(t) for t in frame_indices]
    if not indices:
        raise ValueError("frame_indices must name at least one frame")
    slots: dict[int, list[int]] = {}
    for k, t in enumerate(indices):
        slots.setdefault(t, []).append(k)
    last = max(indices)
    y = uv = None
    found = 0
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # per-core throughput: no frame threads
        for t, frame in enumerate(container.decode(stream)):
            if t in slots:
                if frame.format.name != "yuv420p":
                    frame = frame.reformat(format="yuv420p")
                if y is None:
                    h, w = frame.height, frame.width
                    if h % 2 or w % 2:
                        raise SampleError(f"video is {h}x{w}: yuv420p frames from kinetype have even sizes")
                    first = frame
                    shapes = (len(indices), h, w), (len(indices), 2, h // 2, w // 2)
                    if reuse_buffers:
                        y, uv = (_scratch(name, shape, torch.uint8) for name, shape in zip(("y8", "uv8"), shapes))
                    else:
                        y, uv = (torch.empty(shape, dtype=torch.uint8) for shape in shapes)
                    y_np, uv_np = y.numpy(), uv.numpy()
                luma, cb, cr = (_plane(p) for p in frame.planes)
                for k in slots[t]:
                    y_np[k] = luma
                    uv_np[k, 0] = cb
                    uv_np[k, 1] = cr
                found += 1
            if t >= last:
                break
    if found != len(slots):
        raise SampleError(f"video has fewer frames than needed (frame {last} needed)")
    color_range = getattr(first, "color_range", None)  # 2 = full ("JPEG") range, else limited
    colorspace = getattr(first, "colorspace", None)  # 1 = ITU-R BT.709; unspecified is taken as BT.601
    return YUV420(y, uv, bt709=colorspace == 1 or "709" in str(colorspace),
                  full_range=color_range == 2 or "JPEG" in str(color_range).upper())


def _repeat_columns(x: torch.Tensor, name: str) -> torch.Tensor:
    """(..., w) -> (..., 2w), each column twice (nearest upsampling of chroma along rows)."""
    out = _scratch(name, (*x.shape[:-1], 2 * x.shape[-1]), x.dtype)
    out[..., 0::2] = x
    out[..., 1::2] = x
    return out


def yuv420_to_rgb(yuv: YUV420, dtype: str | torch.dtype = "float32", out: torch.Tensor | None = None) -> torch.Tensor:
    """Planes -> (T, 3, H, W) RGB: float32/float16 in [-1, 1], or uint8 in [0, 255].

    ``out``: a (T, 3, H, W) tensor of that dtype to write into (a slot of a batch), else a new one.
    """
    dtype = video_dtype(dtype)
    num, height, width = yuv.y.shape
    if out is None:
        out = torch.empty(num, 3, height, width, dtype=dtype)
    elif out.shape != (num, 3, height, width) or out.dtype != dtype:
        raise ValueError(f"out must be a {(num, 3, height, width)} {dtype} tensor, got {tuple(out.shape)} {out.dtype}")
    y_off, y_scale, c_scale = (0.0, 1 / 255.0, 1 / 255.0) if yuv.full_range else (16.0, 1 / 219.0, 1 / 224.0)
    m = _YUV2RGB["bt709" if yuv.bt709 else "bt601"]
    if dtype == torch.uint8:
        unit, low, high = 255.0 * (1 << FIXED_BITS), 0.0, 255.0
        offset = 0.5 * (1 << FIXED_BITS)  # rounds to nearest when the shift floors
    else:
        unit, low, high = 2.0, -1.0, 1.0  # rgb * 2 - 1 folded into the scales
        offset = -1.0
    luma = unit * y_scale  # output units per luma step
    chroma = m[:, 1:] * (unit * c_scale)  # (3, 2) weights of (U - 128, V - 128)
    bias = offset - luma * y_off - 128.0 * chroma.sum(1)  # (3,)
    # Chroma terms at half resolution (one matmul), then each column twice: (T, 3, H/2, W).
    uv = _scratch("uv", (num, 2, height // 2 * width // 2), torch.float32).copy_(yuv.uv.view(num, 2, -1))
    terms = _scratch("terms", (num, 3, height // 2 * width // 2), torch.float32)
    torch.matmul(chroma, uv, out=terms).add_(bias[:, None])
    terms = terms.view(num, 3, height // 2, width // 2)
    rows = (num, height // 2, 2, width)  # row pairs: the 2x2 chroma block broadcasts over dim 2

    if dtype != torch.uint8:
        terms = _repeat_columns(terms, "terms_w")
        y = _scratch("y", (num, height, width), torch.float32).copy_(yuv.y)
        rgb = out if dtype == torch.float32 else _scratch("rgb", tuple(out.shape), torch.float32)
        for c in range(3):  # one fused pass per channel: terms + luma * Y
            torch.add(terms[:, c, :, None, :], y.view(rows), alpha=luma, out=rgb[:, c].view(rows))
        rgb.clamp_(low, high)
        if rgb is not out:
            out.copy_(rgb)
        return out

    # uint8: int16 fixed point. luma = 32 * 255/219 = 37.26 per Y step, taken as Y * 37 + (Y * 4 >> 4)
    # (at most 0.1 level off); chroma terms are rounded from float (1/64 level).
    whole, sixteenths = int(luma), round((luma - int(luma)) * 16)
    y16 = _scratch("y16", (num, height, width), torch.int16).copy_(yuv.y)
    if sixteenths:
        frac = _scratch("frac16", (num, height, width), torch.int16)
        torch.mul(y16, sixteenths, out=frac).bitwise_right_shift_(4)
        y16.mul_(whole).add_(frac)
    else:
        y16.mul_(whole)
    terms16 = _repeat_columns(_scratch("terms16", tuple(terms.shape), torch.int16).copy_(terms.round_()), "terms16_w")
    acc = _scratch("acc16", tuple(out.shape), torch.int16)
    for c in range(3):
        torch.add(terms16[:, c, :, None, :], y16.view(rows), out=acc[:, c].view(rows))
    acc.bitwise_right_shift_(FIXED_BITS).clamp_(int(low), int(high))
    return out.copy_(acc)


def decode_video(data: bytes, frame_indices: Sequence[int], dtype: str | torch.dtype = "float32",
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """H.264/MP4 bytes -> (len(frame_indices), 3, H, W): float in [-1, 1], or uint8 RGB."""
    return yuv420_to_rgb(decode_yuv420(data, frame_indices, reuse_buffers=True), dtype, out)
