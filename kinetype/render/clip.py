"""The result of one render: frames, glyph masks, boxes, captions and the typed plan behind them.

``render_clip`` (in :mod:`kinetype.render.engine`) is a pure function that returns a ``Clip``;
writers (mp4/gif/png, WebDataset shards) live elsewhere and only read it. The clip's JSON metadata
is made from its typed fields at that edge (:attr:`Clip.metadata`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: importing the Clip stays cheap for writers and loaders
    from kinetype.render.fonts import FontInfo
    from kinetype.render.plan import ClipPlan


@dataclass(frozen=True)
class Captions:
    """The three KineTy captions plus a short motion tag, all true to the rendered clip."""

    static: str  # appearance: colours, fill, font style, effects, background
    dynamic: str  # what the letters and background do, in which order
    word: str  # KineTy word format, e.g. "H^|e|l|l|o"
    motion_tag: str  # short label, e.g. "bounce in", "typewriter", "glitch"

    def as_dict(self) -> dict[str, str]:
        return {"static": self.static, "dynamic": self.dynamic, "word": self.word, "motion": self.motion_tag}


@dataclass(frozen=True, eq=False)
class Clip:
    """One kinetic-typography clip.

    Shapes use T = frames, H = W = size in pixels, N = letters in the word.
    """

    frames: np.ndarray | None  # (T, H, W, 3) uint8 RGB; None when rendered with pixels=False
    instance_map: np.ndarray  # (T, H, W) uint8: 0 background, k = letter k (1-based, word order)
    boxes: np.ndarray  # (T, N, 4) float32 pixel boxes x0, y0, x1, y1; NaN where the letter is hidden
    at_rest: np.ndarray  # (T,) bool: the whole word is visible and still (legible) in this frame
    captions: Captions
    plan: ClipPlan  # every concrete choice: template, word, seed, sizes, phases, style, background, camera
    font: FontInfo  # the plan's font (plan.style.font_id)
    tags: tuple[str, ...]  # the template's category tags

    @property
    def word(self) -> str:
        return self.plan.word

    @property
    def fps(self) -> int:
        return self.plan.fps

    @property
    def metadata(self) -> dict[str, Any]:
        """JSON-able metadata: template id and tags, sizes, font, the whole plan, at-rest frames."""
        p, f = self.plan, self.font
        return {
            "template": p.template_id, "tags": list(self.tags), "word": p.word, "seed": p.seed, "size": p.size,
            "num_frames": p.num_frames, "fps": p.fps,
            "font": {"id": f.id, "family": f.family, "style": f.style, "licence": f.licence},
            "plan": p.to_json(),
            "at_rest_frames": [int(i) for i in np.flatnonzero(self.at_rest)],
        }

    @property
    def text_mask(self) -> np.ndarray:
        """(T, H, W) bool: pixels covered by any letter."""
        return self.instance_map > 0

    @property
    def num_frames(self) -> int:
        return int(self.instance_map.shape[0])

    @property
    def size(self) -> int:
        return int(self.instance_map.shape[1])
