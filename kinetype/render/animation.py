"""Timeline: phases (enter → emphasis → exit), stagger and easing turn motions into per-letter tracks.

After Effects' text animators are the model: each phase runs one motion over a window of the
clip; inside it every unit (a letter, or the whole word) gets its own staggered sub-window whose
start depends on its rank in the stagger order. The result, :class:`Tracks`, holds one ``(T, N)``
array per channel (see :mod:`kinetype.render.motions`) — the complete, pure description of how
every letter moves. Drawing happens elsewhere (:mod:`kinetype.render.canvas`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinetype.render.easing import get_easing
from kinetype.render.motions import ADDITIVE, CHANNELS, MOTIONS, MULTIPLICATIVE, MotionContext

ORDERS = ("left-to-right", "right-to-left", "centre-out", "edges-in", "random", "all-at-once")
UNITS = ("letter", "word")
PHASES = ("enter", "emphasis", "exit")


@dataclass(frozen=True)
class PhasePlan:
    """One phase with concrete (sampled) values. Times are fractions of the clip, 0 → 1."""

    phase: str  # "enter" | "emphasis" | "exit"
    motion: str  # key of MOTIONS
    start: float
    end: float
    easing: str
    order: str
    unit: str
    overlap: float  # 0: strictly one unit after another, 1: all units together
    params: dict[str, float] = field(default_factory=dict)  # every parameter of the motion

    def __post_init__(self):
        # The one place motion defaults are merged: omitted parameters take the motion's defaults,
        # so the tracks, the captions and the clip's metadata all see the same values.
        defaults = {k: float(d.default) for k, d in MOTIONS[self.motion].params.items()}
        object.__setattr__(self, "params", defaults | dict(self.params))


@dataclass
class Tracks:
    """Per-letter animation: ``channels[name]`` is ``(T, N)``; ``moving`` marks letters mid-transition."""

    channels: dict[str, np.ndarray]
    moving: np.ndarray  # (T, N) bool: inside an enter/exit window, or before the entrance / after the exit

    def __getitem__(self, name: str) -> np.ndarray:
        return self.channels[name]

    def row(self, f: int) -> dict[str, list[float]]:
        """Frame ``f`` of every channel as Python floats (for per-letter drawing loops)."""
        return {name: v[f].tolist() for name, v in self.channels.items()}


def order_ranks(order: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Rank of each letter in the stagger order, ``(N,)`` float ≥ 0; equal ranks start together."""
    i = np.arange(n, dtype=float)
    centre = (n - 1) / 2.0
    if order == "left-to-right":
        return i
    if order == "right-to-left":
        return n - 1 - i
    if order == "centre-out":
        r = np.abs(i - centre)
        return r - r.min()
    if order == "edges-in":
        r = np.abs(i - centre)
        return r.max() - r
    if order == "random":
        return rng.permutation(n).astype(float)
    if order == "all-at-once":
        return np.zeros(n)
    raise ValueError(f"unknown stagger order {order!r}")


def unit_progress(t: np.ndarray, plan: PhasePlan, ranks: np.ndarray) -> np.ndarray:
    """Linear progress 0 → 1 of every unit through its own sub-window, ``(T, N)``.

    With R the largest rank and s = 1 - overlap, each unit's window lasts w = L / (1 + s·R) and
    starts s·w·rank after the phase start, so the last unit ends exactly at the phase end.
    """
    length = max(plan.end - plan.start, 1e-6)
    spread = 1.0 - plan.overlap
    w = length / (1.0 + spread * ranks.max(initial=0.0))
    starts = plan.start + spread * w * ranks  # (N,)
    return np.clip((t[:, None] - starts[None, :]) / w, 0.0, 1.0)


def _word_pivot(deltas: dict, offsets: np.ndarray) -> None:
    """Make rotation/scale/skew pivot on the word centre instead of each letter's own centre.

    A letter at offset p from the word centre, turned by R and scaled by S about the word centre,
    lands at R·S·p: the same as turning it about its own centre and moving it by (R·S − I)·p.
    ``offsets`` is ``(N, 2)`` in frame units.
    """
    sx, sy = deltas.get("sx"), deltas.get("sy")
    rot, skew = deltas.get("rot"), deltas.get("skew")
    if sx is None and sy is None and rot is None and skew is None:
        return
    ref = next(v for v in (sx, sy, rot, skew) if v is not None)
    one, zero = np.ones_like(ref), np.zeros_like(ref)
    sx = one if sx is None else sx
    sy = one if sy is None else sy
    th = np.deg2rad(zero if rot is None else rot)
    k = zero if skew is None else skew
    px, py = offsets[None, :, 0], offsets[None, :, 1]
    # Letter matrix is R · K(skew) · S applied to the offset.
    qx, qy = sx * px + k * sy * py, sy * py
    nx = np.cos(th) * qx - np.sin(th) * qy
    ny = np.sin(th) * qx + np.cos(th) * qy
    deltas["x"] = deltas.get("x", zero) + (nx - px)
    deltas["y"] = deltas.get("y", zero) + (ny - py)


BOOMERANGS = ("start", "end")  # where a boomerang loop starts (and closes): the motion's start or its end


def frame_times(num_frames: int, boomerang: str | None = None) -> np.ndarray:
    """Clip time of each frame: the first frame at 0, the last at 1.

    ``boomerang``: the motion forward and back, a loop — from its ``"start"``, frame i at
    1 - |1 - 2i/T| (the motion's end at the middle frame), or from its ``"end"``, frame i at
    |1 - 2i/T| (backwards first, the start at the middle frame). Either way frame i and frame T - i
    share a time, and a frame one past the last (i = T) would be the first again.
    """
    if num_frames <= 1:
        return np.zeros(1)
    if boomerang is None:
        return np.linspace(0.0, 1.0, num_frames)
    if boomerang not in BOOMERANGS:
        raise ValueError(f"boomerang must be one of {BOOMERANGS}, got {boomerang!r}")
    back = np.abs(1.0 - 2.0 * np.arange(num_frames) / num_frames)  # 1 at both ends, 0 midway
    return 1.0 - back if boomerang == "start" else back


def animate(plans: list[PhasePlan], n: int, times: np.ndarray, em: float, offsets: np.ndarray,
            rng: np.random.Generator) -> Tracks:
    """Per-letter tracks for a word of ``n`` letters at clip ``times`` ``(S,)``.

    ``offsets`` ``(N, 2)``: letter pivots minus word centre in frame units; ``em`` the font size in
    frame units. All randomness (random order, per-letter randoms, per-frame noise) comes from ``rng``.
    """
    t = np.asarray(times, dtype=float)
    num_frames = len(t)
    ctx = MotionContext(n=n, index=np.arange(n, dtype=float), rand=rng.random((n, 4)),
                        noise=rng.random((num_frames, n, 4)), em=em)
    channels = {c: np.zeros((num_frames, n)) for c in ADDITIVE}
    channels.update({c: np.ones((num_frames, n)) for c in MULTIPLICATIVE})
    moving = np.zeros((num_frames, n), dtype=bool)

    for plan in plans:
        m = MOTIONS[plan.motion]
        ranks = order_ranks(plan.order, n, rng) if plan.unit == "letter" else np.zeros(n)
        u = unit_progress(t, plan, ranks)
        eased = get_easing(plan.easing)(u)
        if plan.phase == "enter":
            a = 1.0 - eased  # fully away before the entrance, at rest after it
            moving |= u < 1.0
        elif plan.phase == "exit":
            a = eased  # at rest before the exit, fully away after it
            moving |= u > 0.0
        else:
            a = eased
        deltas = {k: np.broadcast_to(np.asarray(v, dtype=float), a.shape).copy() for k, v in m.fn(a, plan.params, ctx).items()}
        if plan.unit == "word":
            _word_pivot(deltas, offsets)
        for name, d in deltas.items():
            if name in MULTIPLICATIVE:
                channels[name] *= d
            else:
                channels[name] += d

    channels["opacity"] = np.clip(channels["opacity"], 0.0, 1.0)
    channels["reveal"] = np.clip(channels["reveal"], 0.0, 1.0)
    channels["color"] = np.clip(channels["color"], 0.0, 1.0)
    return Tracks(channels=channels, moving=moving)


def at_rest(tracks: Tracks, em: float) -> np.ndarray:
    """``(T,)`` bool: every letter is visible, unscrambled and within a small tolerance of its rest pose.

    Tolerances are in letter terms (positions within 4% of the font size, scale within 4%,
    rotation within 4°) — small enough that OCR reads the frame like a static one.
    """
    c = tracks.channels
    rot = (c["rot"] + 180.0) % 360.0 - 180.0
    ok = (
        ~tracks.moving
        & (np.hypot(c["x"], c["y"]) < 0.04 * em)
        & (np.abs(c["sx"] - 1) < 0.04) & (np.abs(c["sy"] - 1) < 0.04)
        & (np.abs(rot) < 4.0) & (np.abs(c["skew"]) < 0.05)
        & (c["opacity"] > 0.95) & (c["reveal"] > 0.99)
        & (c["scramble"] < 0.5) & (c["font_alt"] < 0.5)
        & (c["blur"] < 0.01) & (np.abs(c["track"]) < 0.03)
        & (c["warp"] < 0.02) & (c["melt"] < 0.03) & (c["weight"] < 0.02) & (c["chroma"] < 0.02)
    )
    return ok.all(axis=1)


def signature(tracks: Tracks) -> np.ndarray:
    """A flat vector of the per-letter transform tracks, used to prove templates are distinct."""
    return np.concatenate([tracks.channels[c].ravel() for c in CHANNELS] + [tracks.moving.ravel().astype(float)])
