"""Writing sampled clips: .mp4 / .gif through :mod:`kinetype.media` when present, .png as a contact sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kinetype.model.errors import ModelError

SUFFIXES = (".mp4", ".gif", ".png")


def contact_sheet(clips: np.ndarray, columns: int | None = None) -> np.ndarray:
    """(B, T, H, W, 3) -> one image: a row per clip, a column per frame (wrapped at ``columns``)."""
    b, t, h, w, _ = clips.shape
    cols = min(t, columns or t)
    rows_per_clip = -(-t // cols)
    sheet = np.zeros((b * rows_per_clip * h, cols * w, 3), np.uint8)
    for i in range(b):
        for f in range(t):
            r, c = i * rows_per_clip + f // cols, f % cols
            sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = clips[i, f]
    return sheet


def write_clip(path: str | Path, frames: np.ndarray, fps: int) -> Path:
    """frames (T, H, W, 3) uint8 -> ``path`` by suffix (.mp4 H.264, .gif, .png contact sheet)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelError(f"{path}: unknown output type {path.suffix!r}: use .mp4, .gif or .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from kinetype.media import write_video
    except ImportError:
        write_video = None
    if write_video is not None:
        write_video(path, frames, fps)
        return path
    if suffix == ".png":
        from PIL import Image

        Image.fromarray(contact_sheet(frames[None], columns=8)).save(path)
    elif suffix == ".gif":
        from PIL import Image

        imgs = [Image.fromarray(f) for f in frames]
        imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=round(1000 / fps), loop=0)
    else:
        _write_mp4(path, frames, fps)
    return path


def _write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    import av

    t, h, w, _ = frames.shape
    # H.264 with yuv420p needs even sizes; pad by one pixel where needed.
    ph, pw = h + h % 2, w + w % 2
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        stream.options = {"crf": "18"}
        for f in frames:
            if (ph, pw) != (h, w):
                f = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
