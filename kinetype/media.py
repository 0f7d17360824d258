"""Clips to files and back: H.264 MP4, looping GIF, PNG contact sheets (with colourised masks).

Encoders return bytes (shard writers store them as they are); ``write_video`` picks one by suffix
and writes atomically. Frames are always ``(T, H, W, 3)`` uint8 RGB; masks ``(T, H, W)`` integers.
Same input, same bytes: x264 runs single-threaded and nothing time-dependent is written.
"""

from __future__ import annotations

import colorsys
import io
import math
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kinetype.colour import CHROMA_ZERO, LUMA_BLACK, fixed_point_weights
from kinetype.errors import KinetypeError
from kinetype.fsutil import atomic_write_bytes
from kinetype.render.settings import MAX_FPS

# H.264 colour tags: BT.709, limited range, so browsers and decoders convert back to the same RGB.
AVCOL_BT709 = 1
AVCOL_RANGE_MPEG = 1

SHEET_GAP_PX = 4
SHEET_BACKGROUND = (24, 24, 28)
SHEET_TEXT = (230, 230, 230)
SHEET_FONT_PX = 12


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be a (T, H, W, 3) uint8 array with T >= 1, got {frames.shape} {frames.dtype}")
    return frames


def _check_fps(fps: int) -> int:
    if not (isinstance(fps, (int, np.integer)) and 1 <= fps <= MAX_FPS):
        raise ValueError(f"fps must be an integer from 1 to {MAX_FPS}, got {fps!r}")
    return int(fps)


# --- MP4 ----------------------------------------------------------------------------------------------

# BT.709 limited-range RGB → Y'CbCr 4:2:0 by swscale with one reused context (building one per
# frame cost more than the conversion), single-threaded (determinism, one core per clip) and AREA
# chroma subsampling — the 2x2 box average. Half the time of a skia colour-matrix pipeline (6.6
# against 13.5 ms per 24-frame 256-px clip, measured by hand), same planes ±1.
SWS_OPTIONS = dict(format="yuv420p", interpolation="AREA", dst_colorspace="ITU709", dst_color_range="MPEG", threads=1)


def _as_rgba(frames: np.ndarray) -> np.ndarray | None:
    """The RGBA buffer an RGB view was cut from (as the engine returns frames: converting it skips a
    copy), the frames themselves if they are RGBA, else None."""
    if frames.shape[-1] == 4:
        return np.ascontiguousarray(frames)
    base = frames.base
    if (isinstance(base, np.ndarray) and base.dtype == np.uint8 and base.shape == frames.shape[:-1] + (4,)
            and base.flags.c_contiguous and frames.ctypes.data == base.ctypes.data):
        return base
    return None


def yuv420_frames(frames: np.ndarray) -> list[av.VideoFrame]:
    """(T, H, W, 3 or 4) uint8 RGB(A), H and W even → T yuv420p frames (BT.709 limited range) for x264."""
    rgba = _as_rgba(frames)
    src, fmt = (rgba, "rgba") if rgba is not None else (np.ascontiguousarray(frames), "rgb24")
    sws = VideoReformatter()
    return [sws.reformat(av.VideoFrame.from_ndarray(f, format=fmt), **SWS_OPTIONS) for f in src]


def rgb_to_yuv420(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3 or 4) uint8 RGB(A), H and W even → (T, H*3/2, W) uint8 planar yuv420p (PyAV's layout)."""
    return np.stack([f.to_ndarray() for f in yuv420_frames(frames)])


# 8-bit fixed point (x 256) BT.709 weights, from the one table in kinetype.colour.
_LUMA, _R_CR, _G_CB, _G_CR, _B_CB = fixed_point_weights("bt709")


def yuv420_to_rgb(planar: np.ndarray, h: int, w: int) -> np.ndarray:
    """(T, H*3/2, W) uint8 planar yuv420p (BT.709 limited range) → (T, H, W, 3) uint8 RGB."""
    t = planar.shape[0]
    flat = planar.reshape(t, -1)
    q = (h // 2) * (w // 2)
    y = (flat[:, : h * w].reshape(t, h, w).astype(np.int32) - LUMA_BLACK) * _LUMA + 128  # + 128: round, not floor
    cb = flat[:, h * w:h * w + q].reshape(t, h // 2, w // 2).astype(np.int32) - CHROMA_ZERO
    cr = flat[:, h * w + q:].reshape(t, h // 2, w // 2).astype(np.int32) - CHROMA_ZERO
    rc, gc, bc = _R_CR * cr, _G_CB * cb + _G_CR * cr, _B_CB * cb
    out = np.empty((t, h, w, 3), np.uint8)
    for dy in (0, 1):  # each of the four luma samples of a 2x2 block shares one chroma sample
        for dx in (0, 1):
            yy = y[:, dy::2, dx::2]
            out[:, dy::2, dx::2, 0] = np.clip((yy + rc) >> 8, 0, 255)
            out[:, dy::2, dx::2, 1] = np.clip((yy + gc) >> 8, 0, 255)
            out[:, dy::2, dx::2, 2] = np.clip((yy + bc) >> 8, 0, 255)
    return out


X264_PRESET = "superfast"
# mbtree off: the macroblock-tree lookahead gave different bytes for the same frames in different
# processes on small frames (64 px): it reads uninitialised memory. Without it the bytes are a
# function of the frames. b-adapt 0: always 3 B-frames, which on these clips is both faster and
# 14% smaller than choosing them adaptively. With `superfast` this is 35-40% less encode time than
# `veryfast` for about 10% more bytes at the same PSNR (benchmarks/render_speed.py prints the table).
X264_PARAMS = "mbtree=0:b-adapt=0"
CRF = 25  # H.264 quality of every clip kinetype writes (the dataset's RenderConfig.crf can change it)


def encode_mp4(frames: np.ndarray, fps: int, crf: int = CRF, preset: str = X264_PRESET) -> bytes:
    """H.264 (libx264, yuv420p, BT.709 limited range) in an MP4, built in memory.

    Odd heights or widths are padded by one edge row/column (yuv420p needs even sizes). The index
    sits at the end of the file (no faststart pass: that needs a named file and a second write);
    players and browsers open it as a whole file as usual.
    """
    frames = _check_frames(frames)
    fps = _check_fps(fps)
    _, h, w, _ = frames.shape
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    _, h, w, _ = frames.shape
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": preset, "x264-params": X264_PARAMS}
        cc = stream.codec_context
        cc.thread_count = 1  # determinism: threaded x264 may split slices differently
        cc.colorspace = cc.color_primaries = cc.color_trc = AVCOL_BT709
        cc.color_range = AVCOL_RANGE_MPEG
        for frame in yuv420_frames(frames):
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buf.getvalue()


def decode_mp4(data: bytes) -> np.ndarray:
    """All frames of the first video stream as ``(T, H, W, 3)`` uint8 RGB (BT.709 limited range)."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            planes = []
            for f in container.decode(stream):
                if f.format.name != "yuv420p":
                    planes = None
                    break
                planes.append(f.to_ndarray())
                h, w = f.height, f.width
            if planes is None:  # not our encoder's layout: let swscale convert
                container.seek(0)
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
                return np.stack(frames)
    except (av.error.FFmpegError, IndexError) as e:
        raise ValueError(f"cannot decode video: {e}") from None
    if not planes:
        raise ValueError("cannot decode video: no frames")
    return yuv420_to_rgb(np.stack(planes), h, w)


# --- GIF ----------------------------------------------------------------------------------------------

def encode_gif(frames: np.ndarray, fps: int) -> bytes:
    """Looping GIF, one adaptive 256-colour palette per frame (fast octree, no dithering).

    GIF delays are in centiseconds; per-frame delays alternate (e.g. 12, 13, 12, ... at 8 fps) so the
    loop lasts exactly T / fps seconds. Pillow stores runs of identical frames as one longer frame.
    """
    frames = _check_frames(frames)
    fps = _check_fps(fps)
    images = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
              for f in frames]
    ticks = [round(100 * i / fps) for i in range(len(frames) + 1)]  # frame starts, centiseconds
    durations_ms = [10 * (b - a) for a, b in zip(ticks, ticks[1:])]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations_ms,
                   loop=0, disposal=1, optimize=False)
    return buf.getvalue()


# --- PNG contact sheet --------------------------------------------------------------------------------

def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 grey image."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


@lru_cache(maxsize=1)
def _mask_palette() -> np.ndarray:
    """(256, 3) uint8: black background, then well-separated hues (golden-ratio steps)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for k in range(1, 256):
        r, g, b = colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.75, 1.0)
        pal[k] = (round(255 * r), round(255 * g), round(255 * b))
    return pal


def colourise_mask(mask: np.ndarray) -> np.ndarray:
    """An integer instance map ``(..., H, W)`` as RGB ``(..., H, W, 3)``: 0 black, each id its own colour."""
    mask = np.asarray(mask)
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must hold integers, got {mask.dtype}")
    ids = np.where(mask > 0, (mask - 1) % 255 + 1, 0)
    return _mask_palette()[ids]


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=SHEET_FONT_PX)
    except (TypeError, ValueError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(draw: ImageDraw.ImageDraw, text: str, width_px: int) -> list[str]:
    """Greedy word wrap of one paragraph to ``width_px``."""
    font, lines, line = _font(), [], ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and draw.textlength(trial, font=font) > width_px:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + [line]


MAX_SHEET_ROWS = 200
"""Rows of one PNG sheet (templates of ``templates sheet``, samples of ``shards inspect --sheet``):
200 rows of 96 px is a 19,200 px tall image, about the most an image viewer still opens."""


def contact_sheet(frames: np.ndarray, columns: int = 8, masks: np.ndarray | None = None,
                  labels: Sequence[str] | None = None, caption: str | Sequence[str] | None = None) -> np.ndarray:
    """Frames in a grid, ``columns`` wide, as one ``(H', W', 3)`` uint8 RGB image.

    With ``masks`` ``(T, H, W)`` each frame's colourised instance map sits under it; ``labels`` (one
    string per frame) go under each cell; ``caption`` (a string with newlines, or a list of lines;
    long lines are wrapped) goes under the grid.
    """
    frames = _check_frames(frames)
    t, h, w, _ = frames.shape
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != (t, h, w):
            raise ValueError(f"masks must have shape {(t, h, w)} to match the frames, got {masks.shape}")
        mask_rgb = colourise_mask(masks)
    if labels is not None and len(labels) != t:
        raise ValueError(f"labels must have one string per frame ({t}), got {len(labels)}")
    gap, font = SHEET_GAP_PX, _font()
    top, bottom = font.getbbox("Ag")[1::2]
    line_px = int(bottom - top) + 4

    columns = max(1, min(int(columns), t))
    rows = math.ceil(t / columns)
    cell_h = h + (gap + h if masks is not None else 0) + (line_px if labels is not None else 0)
    width = columns * w + (columns + 1) * gap
    grid_h = rows * cell_h + (rows + 1) * gap

    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    paragraphs = caption.splitlines() if isinstance(caption, str) else list(caption or [])
    lines = [ln for p in paragraphs for ln in _wrap(scratch, str(p), width - 2 * gap)]
    height = grid_h + (len(lines) * line_px + gap if lines else 0)

    sheet = np.empty((height, width, 3), dtype=np.uint8)
    sheet[:] = SHEET_BACKGROUND
    for i in range(t):
        x = gap + (i % columns) * (w + gap)
        y = gap + (i // columns) * (cell_h + gap)
        sheet[y:y + h, x:x + w] = frames[i]
        if masks is not None:
            sheet[y + h + gap:y + 2 * h + gap, x:x + w] = mask_rgb[i]
    if labels is None and not lines:
        return sheet

    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    if labels is not None:
        for i, label in enumerate(labels):
            x = gap + (i % columns) * (w + gap)
            y = gap + (i // columns) * (cell_h + gap) + cell_h - line_px + 2 - top
            draw.text((x, y), str(label), fill=SHEET_TEXT, font=font)
    for k, line in enumerate(lines):
        draw.text((gap, grid_h + k * line_px - top), line, fill=SHEET_TEXT, font=font)
    return np.asarray(image)


# --- files ----------------------------------------------------------------------------------------------

VIDEO_SUFFIXES = (".mp4", ".gif", ".png")


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int, overwrite: bool = True) -> Path:
    """Write ``frames`` to ``path`` as .mp4, .gif or .png (contact sheet), atomically; return the path.
    ``overwrite=False``: FileExistsError rather than replace a file that appeared meanwhile."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        data = encode_mp4(frames, fps)
    elif suffix == ".gif":
        data = encode_gif(frames, fps)
    elif suffix == ".png":
        data = encode_png(contact_sheet(frames))
    else:
        raise KinetypeError(f"{path}: unknown video format {suffix or '(no suffix)'!r}; use one of "
                            f"{', '.join(VIDEO_SUFFIXES)}")
    atomic_write_bytes(path, data, overwrite)
    return path
