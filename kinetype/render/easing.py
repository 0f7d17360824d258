"""Easing functions: vectorised maps of phase progress u ∈ [0, 1] to eased progress, f(0)=0, f(1)=1.

Every easing takes a float array of any shape, clips it to [0, 1] first and returns an array of the
same shape; the endpoints are pinned so f(0) == 0 and f(1) == 1 exactly. Some easings leave [0, 1]
in between (back, elastic, spring overshoot; bounce touches 1 early).

Names follow Robert Penner's set ("in-quad", "out-back", "in-out-elastic", ...; formulas as on
easings.net), plus CSS's "ease", "ease-in", "ease-out", "ease-in-out" and "step". ``get_easing``
also parses ``cubic-bezier(x1, y1, x2, y2)``, ``spring(damping, frequency)`` and ``steps(n)``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable

import numpy as np

Easing = Callable[[np.ndarray], np.ndarray]


def _pinned(fn: Callable[[np.ndarray], np.ndarray]) -> Easing:
    """Clip the input to [0, 1] and make the endpoints exact."""

    @functools.wraps(fn)
    def eased(u: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        return np.where(u <= 0.0, 0.0, np.where(u >= 1.0, 1.0, fn(u)))

    return eased


# --- Penner "in" shapes; out and in-out are derived from them ------------------------------------

BACK_OVERSHOOT = 1.70158  # Penner's s: ~10% overshoot
BOUNCE_N, BOUNCE_D = 7.5625, 2.75  # Penner's bounce parabola constants


def _in_power(p: int) -> Easing:
    return lambda u: u**p


def _in_expo(u: np.ndarray) -> np.ndarray:
    # Penner's 2^(10u-10) jumps by 2^-10 at u=0; this rescaled form is continuous and exact at both ends.
    return (np.exp2(10.0 * u) - 1.0) / 1023.0


def _in_back(s: float) -> Easing:
    return lambda u: (s + 1.0) * u**3 - s * u**2


def _in_elastic(u: np.ndarray) -> np.ndarray:
    return -np.exp2(10.0 * u - 10.0) * np.sin((10.0 * u - 10.75) * (2.0 * np.pi / 3.0))


def _out_bounce(u: np.ndarray) -> np.ndarray:
    n, d = BOUNCE_N, BOUNCE_D
    return np.select(
        [u < 1 / d, u < 2 / d, u < 2.5 / d],
        [n * u**2, n * (u - 1.5 / d) ** 2 + 0.75, n * (u - 2.25 / d) ** 2 + 0.9375],
        n * (u - 2.625 / d) ** 2 + 0.984375,
    )


def _in_bounce(u: np.ndarray) -> np.ndarray:
    return 1.0 - _out_bounce(1.0 - u)


def _out(f_in: Easing) -> Easing:
    return lambda u: 1.0 - f_in(1.0 - u)


def _in_out(f_in: Easing) -> Easing:
    # First half: the "in" shape squeezed into [0, .5]; second half: its point reflection.
    return lambda u: np.where(u < 0.5, f_in(np.minimum(2.0 * u, 1.0)) / 2.0,
                              1.0 - f_in(np.minimum(2.0 - 2.0 * u, 1.0)) / 2.0)


def _in_out_elastic(u: np.ndarray) -> np.ndarray:
    # Penner's in-out elastic has its own period (2π/4.5), not two halves of in-elastic.
    c5 = 2.0 * np.pi / 4.5
    w = np.sin((20.0 * u - 11.125) * c5)
    return np.where(u < 0.5, -np.exp2(20.0 * u - 10.0) * w / 2.0, np.exp2(-20.0 * u + 10.0) * w / 2.0 + 1.0)


IN_SHAPES: dict[str, Easing] = {
    "sine": lambda u: 1.0 - np.cos(u * np.pi / 2.0),
    "quad": _in_power(2), "cubic": _in_power(3), "quart": _in_power(4), "quint": _in_power(5),
    "expo": _in_expo,
    "circ": lambda u: 1.0 - np.sqrt(np.maximum(1.0 - u**2, 0.0)),
    "back": _in_back(BACK_OVERSHOOT),
    "elastic": _in_elastic,
    "bounce": _in_bounce,
}
IN_OUT_OVERRIDES: dict[str, Easing] = {
    "back": _in_out(_in_back(BACK_OVERSHOOT * 1.525)),  # Penner's c2: more overshoot for in-out
    "elastic": _in_out_elastic,
}


# --- parametric easings --------------------------------------------------------------------------

def cubic_bezier(x1: float, y1: float, x2: float, y2: float) -> Easing:
    """CSS ``cubic-bezier()``: the curve (0,0)-(x1,y1)-(x2,y2)-(1,1); solve x(t)=u, return y(t).

    x1 and x2 must lie in [0, 1] so x(t) is monotonic and the solution unique.
    """
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"cubic-bezier({x1}, {y1}, {x2}, {y2}): control points must be finite numbers")
    if not (0.0 <= x1 <= 1.0 and 0.0 <= x2 <= 1.0):
        raise ValueError(f"cubic-bezier({x1}, {y1}, {x2}, {y2}): x1 and x2 must lie in [0, 1]")
    # Polynomial coefficients: B(t) = ((a t + b) t + c) t, per axis.
    cx = 3.0 * x1
    bx = 3.0 * (x2 - x1) - cx
    ax = 1.0 - cx - bx
    cy = 3.0 * y1
    by = 3.0 * (y2 - y1) - cy
    ay = 1.0 - cy - by

    def x_of(t):
        return ((ax * t + bx) * t + cx) * t

    def bezier(u: np.ndarray) -> np.ndarray:
        # Newton from t=u (converges in a few steps away from flat spots) ...
        t = u.copy()
        for _ in range(8):
            dx = (3.0 * ax * t + 2.0 * bx) * t + cx
            step = np.divide(x_of(t) - u, dx, out=np.zeros_like(t), where=np.abs(dx) > 1e-9)
            t = np.clip(t - step, 0.0, 1.0)
        # ... then bisection wherever it did not (x(t) is monotonic on [0, 1]).
        bad = np.abs(x_of(t) - u) > 1e-9
        if np.any(bad):
            target = u[bad]
            lo, hi = np.zeros_like(target), np.ones_like(target)
            for _ in range(60):
                mid = (lo + hi) / 2.0
                below = x_of(mid) < target
                lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
            t[bad] = (lo + hi) / 2.0
        return ((ay * t + by) * t + cy) * t

    return _pinned(bezier)


def spring(damping: float = 0.5, frequency: float = 3.0) -> Easing:
    """A damped spring released at 0 that settles on 1: overshoots, rings, comes to rest.

    ``damping`` is the damping ratio ζ in (0, 1) (lower rings longer); ``frequency`` the natural
    frequency in cycles per phase. Step response of x'' + 2ζω x' + ω² x = ω²; the small residual
    left at u=1 is removed by a linear ramp, so f(1) == 1 while the oscillation is kept.
    """
    if not (0.0 < damping < 1.0 and math.isfinite(damping)):
        raise ValueError(f"spring({damping}, {frequency}): damping must lie strictly between 0 and 1")
    if not (0.0 < frequency <= 50.0 and math.isfinite(frequency)):
        raise ValueError(f"spring({damping}, {frequency}): frequency must lie in (0, 50] cycles")
    w = 2.0 * np.pi * frequency
    wd = w * math.sqrt(1.0 - damping**2)

    def g(u):
        return 1.0 - np.exp(-damping * w * u) * (np.cos(wd * u) + damping * w / wd * np.sin(wd * u))

    residual = float(g(1.0)) - 1.0
    return _pinned(lambda u: g(u) - residual * u)


def steps(n: int) -> Easing:
    """``n`` held levels 0, 1/(n-1), ..., 1, each held for 1/n of the phase (n ≥ 2)."""
    if not (isinstance(n, int) and 2 <= n <= 100):
        raise ValueError(f"steps({n}): n must be an integer from 2 to 100")
    return _pinned(lambda u: np.minimum(np.floor(u * n), n - 1) / (n - 1))


# --- registry ------------------------------------------------------------------------------------

CSS_PRESETS = {"ease": (0.25, 0.1, 0.25, 1.0), "ease-in": (0.42, 0.0, 1.0, 1.0),
               "ease-out": (0.0, 0.0, 0.58, 1.0), "ease-in-out": (0.42, 0.0, 0.58, 1.0)}

EASINGS: dict[str, Easing] = {"linear": _pinned(lambda u: u)}
for _name, _f in IN_SHAPES.items():
    EASINGS[f"in-{_name}"] = _pinned(_f)
    EASINGS[f"out-{_name}"] = _pinned(_out(_f))
    EASINGS[f"in-out-{_name}"] = _pinned(IN_OUT_OVERRIDES.get(_name) or _in_out(_f))
EASINGS.update({name: cubic_bezier(*p) for name, p in CSS_PRESETS.items()})
EASINGS["spring"] = spring()
EASINGS["step"] = steps(2)  # hold the start for the first half, then jump to the end

# Easings whose output is non-decreasing in u (the others overshoot or bounce).
MONOTONIC = tuple(n for n in EASINGS if not any(k in n for k in ("back", "elastic", "bounce", "spring")))

_NUM = r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
_PATTERNS: dict[str, tuple[re.Pattern, Callable[..., Easing]]] = {
    "cubic-bezier": (re.compile(rf"cubic-bezier\({_NUM},{_NUM},{_NUM},{_NUM}\)"), cubic_bezier),
    "spring": (re.compile(rf"spring\((?:{_NUM}(?:,{_NUM})?)?\)"), spring),
    "steps": (re.compile(r"steps\(\s*(\d+)\s*\)"), lambda n: steps(int(n))),
}


def easing_names() -> list[str]:
    """The plain names ``get_easing`` accepts (besides the parametric forms)."""
    return list(EASINGS)


@functools.lru_cache(maxsize=256)
def get_easing(spec: str) -> Easing:
    """The easing named by ``spec``: a plain name, ``cubic-bezier(x1, y1, x2, y2)``,
    ``spring(damping, frequency)`` (both optional) or ``steps(n)``. Raises ValueError naming the spec."""
    if not isinstance(spec, str):
        raise ValueError(f"easing {spec!r}: must be a string")
    s = spec.strip().lower()
    if s in EASINGS:
        return EASINGS[s]
    for head, (pattern, make) in _PATTERNS.items():
        if s.startswith(head + "("):
            m = pattern.fullmatch(s)
            if not m:
                raise ValueError(f"easing {spec!r}: cannot parse the arguments of {head}()")
            args = [float(a) if head != "steps" else a for a in m.groups() if a is not None]
            try:
                return make(*args)
            except ValueError as e:
                raise ValueError(f"easing {spec!r}: {e}") from None
    raise ValueError(f"unknown easing {spec!r}: expected a name such as out-cubic or in-out-back, "
                     "or cubic-bezier(x1, y1, x2, y2), spring(damping, frequency), steps(n)")
