"""A template's canonical motion: its per-letter transform tracks at representative parameter values.

Used to prove that no two templates produce the same motion (tests and the template authoring
script compare these vectors). Canonical = the middle of every range and the first of every
choice, a fixed 8-letter word with evenly spaced letters, and a fixed random stream.
"""

from __future__ import annotations

import numpy as np

from kinetype.render.animation import PhasePlan, animate, frame_times, signature
from kinetype.templates.schema import Template

CANON_LETTERS = 8
CANON_FRAMES = 24
CANON_EM = 0.1  # font size in frame units
CANON_SPACING = 0.08  # letter pivot spacing in frame units


def canonical_plans(t: Template) -> list[PhasePlan]:
    d_in = float(t.enter.duration.canonical()) if t.enter else 0.0
    d_out = float(t.exit.duration.canonical()) if t.exit else 0.0
    windows = {"enter": (0.0, d_in), "exit": (1.0 - d_out, 1.0)}
    if t.emphasis:
        lo, hi = d_in, 1.0 - d_out
        span = (hi - lo) * float(t.emphasis.duration.canonical())
        windows["emphasis"] = ((lo + hi - span) / 2, (lo + hi + span) / 2)
    return [PhasePlan(phase=name, motion=p.motion, start=windows[name][0], end=windows[name][1],
                      easing=p.easing.canonical(), order=p.order.canonical(), unit=p.unit.canonical(),
                      overlap=float(p.overlap.canonical()), params={k: float(v.canonical()) for k, v in p.params})
            for name, p in t.phases()]


def canonical_signature(t: Template) -> np.ndarray:
    """Flat vector of the canonical tracks (all channels, all letters, all frames)."""
    n = CANON_LETTERS
    offsets = np.stack([(np.arange(n) - (n - 1) / 2) * CANON_SPACING, np.zeros(n)], axis=1)
    tracks = animate(canonical_plans(t), n, frame_times(CANON_FRAMES), CANON_EM, offsets, np.random.default_rng(0))
    return signature(tracks)
