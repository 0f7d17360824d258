"""A template's canonical motion: its per-letter transform tracks at representative parameter values.

Used to prove that no two templates produce the same motion (tests and the template authoring
script compare these vectors). Canonical = the engine's own phase planner
(:func:`~kinetype.render.plan.plan_phases`) picking the middle of every range and the first of every
choice, a fixed 8-letter word with evenly spaced letters, and a fixed random stream.
"""

from __future__ import annotations

import numpy as np

from kinetype.render.animation import animate, frame_times, signature
from kinetype.render.plan import plan_phases
from kinetype.render.schema import Spec, Template

CANON_LETTERS = 8
CANON_FRAMES = 24
CANON_EM = 0.1  # font size in frame units
CANON_SPACING = 0.08  # letter pivot spacing in frame units


def canonical_signature(t: Template) -> np.ndarray:
    """Flat vector of the canonical tracks (all channels, all letters, all frames)."""
    n = CANON_LETTERS
    offsets = np.stack([(np.arange(n) - (n - 1) / 2) * CANON_SPACING, np.zeros(n)], axis=1)
    tracks = animate(list(plan_phases(t, Spec.canonical)), n, frame_times(CANON_FRAMES), CANON_EM, offsets, np.random.default_rng(0))
    return signature(tracks)
