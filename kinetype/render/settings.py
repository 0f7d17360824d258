"""The clip settings — frame size, frame count, frame rate — with their defaults and bounds, each
written once. The CLI's ``--size``/``--frames``/``--fps`` defaults, ``render_clip``, the dataset's
``RenderConfig``, ``preview``, ``eval renders`` and the model folder's index all read them from here.

A :class:`ClipSettings` is checked when it is made: a value out of bounds is one line naming the
option (``--frames must be 1 to 1000, got 0``), the same words from the CLI and from Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinetype.errors import whole

MIN_SIZE, MAX_SIZE = 16, 4096  # pixels; below 16 a letter is a couple of pixels
MAX_FRAMES = 1000  # a 24-frame clip takes ~0.1 s to draw; 1000 frames is already minutes of video
MAX_FPS = 120  # the most an H.264 or GIF player shows


def check_size(value: Any, name: str = "--size") -> int:
    return whole(name, value, MIN_SIZE, MAX_SIZE, " pixels")


def check_frames(value: Any, name: str = "--frames", most: int = MAX_FRAMES, why: str = "") -> int:
    """``most``: a lower ceiling than the engine's, e.g. a model's ``max_frames``; ``why`` says whose."""
    return whole(name, value, 1, min(most, MAX_FRAMES), f" ({why})" if why and most < MAX_FRAMES else "")


def check_fps(value: Any, name: str = "--fps") -> int:
    return whole(name, value, 1, MAX_FPS)


@dataclass(frozen=True)
class ClipSettings:
    """What one clip is: ``frames`` square frames of ``size`` pixels shown at ``fps``."""

    size: int = 256  # frame width and height, pixels (KineTy's 256 x 256)
    frames: int = 24  # 3 seconds at the default fps
    fps: int = 8

    def __post_init__(self):
        check_size(self.size)
        check_frames(self.frames)
        check_fps(self.fps)
