"""The eval set: held-out words and motion phrases, and the deterministic (template, word, seed) draw.

The words ship as a versioned file (``kinetype/assets/evalset_v1.json``, made by
``tools/make_evalset.py``, read by :func:`kinetype.render.words.load_evalset`: the dataset writer
keeps its words out of the default mix without depending on eval): English words disjoint from the renderer's bundled list, and random
letter strings, 3-10 letters, cases mixed. A figure is only comparable with figures on the same
version, so the report names it.

``eval_items(templates, n, seed)`` alternates English words and random strings (half each, as the
engine's legibility goal asks), draws a motion phrase uniformly, then a template with that motion
tag, so every motion is covered whatever its number of templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from kinetype.errors import KinetypeError
from kinetype.render.words import EvalSet, load_evalset

@dataclass(frozen=True)
class EvalItem:
    """One clip to evaluate."""

    index: int
    template_id: str
    word: str
    seed: int  # render (and sampling) seed
    word_type: str  # "English" or "random"
    motion: str  # the motion phrase the template was drawn for


def eval_items(templates: Sequence, n: int, seed: int = 0, evalset: EvalSet | None = None) -> list[EvalItem]:
    """``n`` items drawn from (seed, index) only: item i is the same for any n > i."""
    if n < 1:
        raise KinetypeError(f"--n must be at least 1, got {n}")
    if not templates:
        raise KinetypeError("no templates to evaluate")
    s = evalset or load_evalset()
    ordered = sorted(templates, key=lambda t: t.id)
    by_motion: dict[str, list] = {}
    for t in ordered:
        for m in t.motion_tag.split(","):
            by_motion.setdefault(m.strip(), []).append(t)
    motions = [m for m in s.motions if m in by_motion] or sorted(by_motion)  # a custom folder: its own tags
    items = []
    for i in range(n):
        rng = np.random.default_rng([seed, 8, i])  # 8: this module's own stream of the seed
        english = i % 2 == 0
        pool = s.english if english else s.random
        word = pool[int(rng.integers(len(pool)))]
        motion = motions[int(rng.integers(len(motions)))]
        choices = by_motion[motion]
        template = choices[int(rng.integers(len(choices)))]
        items.append(EvalItem(i, template.id, word, int(rng.integers(2**31)), "English" if english else "random", motion))
    return items
