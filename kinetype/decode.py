"""Decoding a sample's clip to tensors: H.264 MP4 bytes -> yuv420p planes -> RGB video.

The loader's time is H.264 decoding plus everything after it, so everything after it is a few
passes over memory:

1. :func:`decode_yuv420` copies each wanted frame's Y, U and V planes straight into one
   preallocated uint8 tensor in PyAV's yuv420p layout (no per-frame arrays, no ``np.stack``).
   ``dtype="yuv420"`` stops here: the planes go to the GPU as they are (half the bytes of uint8
   RGB) and :func:`planes_to_rgb` converts them there;
2. :func:`yuv420_to_rgb` converts them in torch, on any device, to one of three output types:

   - ``float32`` (the loader's contract) and ``float16``: RGB in [-1, 1]. The chroma terms of the
     colour matrix are one small matmul at half resolution; each output channel is then a single
     fused ``add(terms, Y, alpha=luma scale)`` over contiguous rows (the 2x2 chroma block is
     broadcast over row pairs, the column pairs were repeated at half size), and one clamp.
   - ``uint8``: RGB in [0, 255] in 16-bit fixed point (5 fractional bits), a quarter of the bytes
     of float32 for the trip to the GPU, where ``x.float().div_(127.5).sub_(1)`` gives the float
     video back (within one level of rounding, tested).

Colour: BT.709 or BT.601 (as tagged; untagged is taken as BT.601), limited or full range. kinetype
writes BT.709 limited range, the default of :func:`planes_to_rgb`.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Sequence

import av
import numpy as np
import torch

from kinetype.colour import CHROMA_LEVELS, CHROMA_ZERO, LUMA_BLACK, LUMA_LEVELS, YUV_TO_RGB
from kinetype.errors import KinetypeError
from kinetype.shards.sample import SampleError

RGB_DTYPES = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}
# The loader's video types: RGB as above, or "yuv420": the decoded planes, converted on the GPU.
VIDEO_DTYPES = (*RGB_DTYPES, "yuv420")

# YUV -> RGB, rows R, G, B; columns Y, U, V: the one table (kinetype.colour) as tensors.
_YUV2RGB = {name: torch.tensor(matrix) for name, matrix in YUV_TO_RGB.items()}
FIXED_BITS = 5  # fractional bits of the uint8 path: |Y, U, V terms| * 32 stays inside int16


# Temporaries (planes, chroma terms, int16 accumulators) are kept per thread and reused: a fresh
# multi-megabyte tensor costs a page fault per 4 KiB on first touch, which measured as much as the
# arithmetic. Only the returned video is newly allocated (or written into the caller's ``out``).
_workspace = threading.local()


def _scratch(name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | None = None) -> torch.Tensor:
    if device is not None and device.type != "cpu":  # GPU: the caching allocator already reuses memory
        return torch.empty(shape, dtype=dtype, device=device)
    buffers = _workspace.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[name] = torch.empty(shape, dtype=dtype)
    return buf


class ColourError(KinetypeError, ValueError):
    """A clip whose colour (matrix, range) ``dtype="yuv420"`` cannot carry: the planes travel
    without it, as BT.709 limited range. A configuration error (not corrupt data): the loader
    raises it rather than skipping every sample of a foreign dataset."""


def video_dtype(dtype: str | torch.dtype) -> str:
    """'float32' | 'float16' | 'uint8' | 'yuv420' (or the torch dtype of the first three) -> that
    name; anything else raises."""
    if isinstance(dtype, str) and dtype in VIDEO_DTYPES:
        return dtype
    for name, value in RGB_DTYPES.items():
        if dtype == value:
            return name
    raise ValueError(f"dtype must be one of {', '.join(map(repr, VIDEO_DTYPES))}, got {dtype!r}")


def _rgb_dtype(dtype: str | torch.dtype) -> torch.dtype:
    name = video_dtype(dtype)
    if name not in RGB_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(map(repr, RGB_DTYPES))} for RGB, got {dtype!r}")
    return RGB_DTYPES[name]


@dataclass
class YUV420:
    """Decoded frames in PyAV's yuv420p layout (``VideoFrame.to_ndarray()``): ``planes``
    (T, H*3/2, W) uint8, each frame its Y plane (H, W) then U and V (H/2, W/2 each), flat."""

    planes: torch.Tensor
    bt709: bool = True
    full_range: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames."""
        rows, width = self.planes.shape[-2:]
        return rows * 2 // 3, width

    @property
    def y(self) -> torch.Tensor:
        """(T, H, W) view."""
        h, w = self.size
        return self.planes.view(len(self.planes), -1)[:, : h * w].view(-1, h, w)

    @property
    def uv(self) -> torch.Tensor:
        """(T, 2, H/2, W/2) view: U, V."""
        h, w = self.size
        return self.planes.view(len(self.planes), -1)[:, h * w :].view(-1, 2, h // 2, w // 2)


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
    planes = None
    found = 0
    with av.open(io.BytesIO(data), format="mp4") as container:  # shards hold MP4: no format probing
        stream = container.streams.video[0]
        # Per-core throughput: no frame threads, and one slice thread (a pool of idle slice
        # threads per clip cost ~0.5 ms of CPU time for nothing: x264 wrote one slice).
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = 1
        for t, frame in enumerate(container.decode(stream)):
            if t in slots:
                if frame.format.name != "yuv420p":
                    frame = frame.reformat(format="yuv420p")
                if planes is None:
                    h, w = frame.height, frame.width
                    if h % 2 or w % 2:
                        raise SampleError(f"video is {h}x{w}: yuv420p frames from kinetype have even sizes")
                    first = frame
                    shape = (len(indices), h * 3 // 2, w)
                    planes = _scratch("planes8", shape, torch.uint8) if reuse_buffers else torch.empty(shape, dtype=torch.uint8)
                    flat = planes.numpy().reshape(len(indices), -1)
                    # Views of each frame's Y, U and V in the packed layout.
                    y_np = flat[:, : h * w].reshape(-1, h, w)
                    u_np = flat[:, h * w : h * w * 5 // 4].reshape(-1, h // 2, w // 2)
                    v_np = flat[:, h * w * 5 // 4 :].reshape(-1, h // 2, w // 2)
                luma, cb, cr = (_plane(p) for p in frame.planes)
                for k in slots[t]:
                    y_np[k] = luma
                    u_np[k] = cb
                    v_np[k] = cr
                found += 1
            if t >= last:
                break
    if found != len(slots):
        raise SampleError(f"video has fewer frames than needed (frame {last} needed)")
    color_range = getattr(first, "color_range", None)  # 2 = full ("JPEG") range, else limited
    colorspace = getattr(first, "colorspace", None)  # 1 = ITU-R BT.709; unspecified is taken as BT.601
    return YUV420(planes, bt709=colorspace == 1 or "709" in str(colorspace),
                  full_range=color_range == 2 or "JPEG" in str(color_range).upper())


def _repeat_columns(x: torch.Tensor, name: str) -> torch.Tensor:
    """(..., w) -> (..., 2w), each column twice (nearest upsampling of chroma along rows)."""
    out = _scratch(name, (*x.shape[:-1], 2 * x.shape[-1]), x.dtype, x.device)
    out[..., 0::2] = x
    out[..., 1::2] = x
    return out


def yuv420_to_rgb(yuv: YUV420, dtype: str | torch.dtype = "float32", out: torch.Tensor | None = None) -> torch.Tensor:
    """Planes -> (T, 3, H, W) RGB: float32/float16 in [-1, 1], or uint8 in [0, 255], on the
    planes' device. The one YUV -> RGB conversion in torch (the loader's, and the trainer's for
    ``dtype="yuv420"``).

    ``out``: a (T, 3, H, W) tensor of that dtype to write into (a slot of a batch), else a new one.
    """
    dtype = _rgb_dtype(dtype)
    device = yuv.planes.device
    num, (height, width) = len(yuv.planes), yuv.size
    if out is None:
        out = torch.empty(num, 3, height, width, dtype=dtype, device=device)
    elif out.shape != (num, 3, height, width) or out.dtype != dtype or out.device != device:
        raise ValueError(f"out must be a {(num, 3, height, width)} {dtype} tensor on {device}, "
                         f"got {tuple(out.shape)} {out.dtype} on {out.device}")
    y_off, y_scale, c_scale = ((0.0, 1 / 255.0, 1 / 255.0) if yuv.full_range
                               else (float(LUMA_BLACK), 1 / LUMA_LEVELS, 1 / CHROMA_LEVELS))
    m = _YUV2RGB["bt709" if yuv.bt709 else "bt601"]
    if dtype == torch.uint8:
        unit, low, high = 255.0 * (1 << FIXED_BITS), 0.0, 255.0
        offset = 0.5 * (1 << FIXED_BITS)  # rounds to nearest when the shift floors
    else:
        unit, low, high = 2.0, -1.0, 1.0  # rgb * 2 - 1 folded into the scales
        offset = -1.0
    luma = unit * y_scale  # output units per luma step
    chroma = m[:, 1:] * (unit * c_scale)  # (3, 2) weights of (U - 128, V - 128)
    bias = offset - luma * y_off - float(CHROMA_ZERO) * chroma.sum(1)  # (3,)
    # Chroma terms at half resolution (one matmul), then each column twice: (T, 3, H/2, W). Off
    # the CPU in float64: CUDA may run float32 matmuls in TF32 (the trainer allows it), which
    # keeps only ~3 digits of the weights; the matrix is 3x2, so float64 costs nothing there.
    terms_dtype = torch.float32 if device.type == "cpu" else torch.float64
    chroma, bias = chroma.to(device, terms_dtype), bias.to(device, terms_dtype)
    uv = _scratch("uv", (num, 2, height // 2 * width // 2), terms_dtype, device).copy_(yuv.uv.reshape(num, 2, -1))
    terms = _scratch("terms", (num, 3, height // 2 * width // 2), terms_dtype, device)
    torch.matmul(chroma, uv, out=terms).add_(bias[:, None])
    if terms_dtype != torch.float32:
        terms = terms.float()
    terms = terms.view(num, 3, height // 2, width // 2)
    rows = (num, height // 2, 2, width)  # row pairs: the 2x2 chroma block broadcasts over dim 2

    if dtype != torch.uint8:
        terms = _repeat_columns(terms, "terms_w")
        y = _scratch("y", (num, height, width), torch.float32, device).copy_(yuv.y)
        rgb = out if dtype == torch.float32 else _scratch("rgb", tuple(out.shape), torch.float32, device)
        for c in range(3):  # one fused pass per channel: terms + luma * Y
            torch.add(terms[:, c, :, None, :], y.view(rows), alpha=luma, out=rgb[:, c].view(rows))
        rgb.clamp_(low, high)
        if rgb is not out:
            out.copy_(rgb)
        return out

    # uint8: int16 fixed point. luma = 32 * 255/219 = 37.26 per Y step, taken as Y * 37 + (Y * 4 >> 4)
    # (at most 0.1 level off); chroma terms are rounded from float (1/64 level).
    whole, sixteenths = int(luma), round((luma - int(luma)) * 16)
    y16 = _scratch("y16", (num, height, width), torch.int16, device).copy_(yuv.y)
    if sixteenths:
        frac = _scratch("frac16", (num, height, width), torch.int16, device)
        torch.mul(y16, sixteenths, out=frac).bitwise_right_shift_(4)
        y16.mul_(whole).add_(frac)
    else:
        y16.mul_(whole)
    terms16 = _scratch("terms16", tuple(terms.shape), torch.int16, device).copy_(terms.round_())
    terms16 = _repeat_columns(terms16, "terms16_w")
    acc = _scratch("acc16", tuple(out.shape), torch.int16, device)
    for c in range(3):
        torch.add(terms16[:, c, :, None, :], y16.view(rows), out=acc[:, c].view(rows))
    acc.bitwise_right_shift_(FIXED_BITS).clamp_(int(low), int(high))
    return out.copy_(acc)


def planes_to_rgb(planes: torch.Tensor, dtype: str | torch.dtype = "float32", *, bt709: bool = True,
                  full_range: bool = False) -> torch.Tensor:
    """What the loader's ``dtype="yuv420"`` yields, (..., H*3/2, W) uint8 on any device (a batch on
    the GPU) -> (..., 3, H, W) RGB as :func:`yuv420_to_rgb` gives it. kinetype's clips are BT.709,
    limited range (the loader checks)."""
    if planes.dtype != torch.uint8 or planes.dim() < 3 or planes.shape[-2] % 3:
        raise ValueError(f"planes must be (..., H*3/2, W) uint8 in yuv420p layout, got {tuple(planes.shape)} {planes.dtype}")
    lead = planes.shape[:-2]
    yuv = YUV420(planes.reshape(-1, *planes.shape[-2:]), bt709=bt709, full_range=full_range)
    return yuv420_to_rgb(yuv, dtype).unflatten(0, lead)


def decode_video(data: bytes, frame_indices: Sequence[int], dtype: str | torch.dtype = "float32",
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """H.264/MP4 bytes -> (len(frame_indices), 3, H, W): float in [-1, 1], or uint8 RGB; or with
    ``dtype="yuv420"`` the planes as decoded, (T, H*3/2, W) uint8 (see :class:`YUV420`), which
    must be BT.709 limited range, as kinetype writes (else :class:`ColourError`): the colour
    information does not travel with the planes, and :func:`planes_to_rgb` assumes it."""
    if video_dtype(dtype) == "yuv420":
        if out is not None:
            raise ValueError("out is for RGB video; yuv420 planes are always a new tensor")
        yuv = decode_yuv420(data, frame_indices)
        if not yuv.bt709 or yuv.full_range:
            raise ColourError(f"video is {'BT.709' if yuv.bt709 else 'BT.601 (or untagged)'} "
                              f"{'full' if yuv.full_range else 'limited'} range: dtype='yuv420' carries BT.709 "
                              "limited range only, as kinetype writes it (use dtype='uint8' for these clips)")
        return yuv.planes
    return yuv420_to_rgb(decode_yuv420(data, frame_indices, reuse_buffers=True), dtype, out)
