"""The range of every number a user gives kinetype, checked in one place for the CLI and the Python
API alike, before any work starts.

Each check takes the name the caller knows the value by (``--seed`` on the command line, ``seed``
in Python) and raises one :class:`~kinetype.errors.KinetypeError` line naming it, the range and the
value. Types are part of the rule: ``True`` is not a size, ``"64"`` is not a number, ``64.0`` is
not a frame count.
"""

from __future__ import annotations

import math
from typing import Any

from kinetype.errors import KinetypeError

# Seeds feed numpy's legacy generator (np.random.seed) in training, which takes 32 bits.
MAX_SEED = 2**32 - 1


def whole(name: str, value: Any, lo: int, hi: int | None = None, unit: str = "") -> int:
    """``value`` as an int in [lo, hi] (hi None: no upper bound), else one line naming ``name``."""
    rule = f"{lo} to {hi}{unit}" if hi is not None else f"at least {lo}{unit}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise KinetypeError(f"{name} must be a whole number, {rule}, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise KinetypeError(f"{name} must be {rule}, got {value}")
    return value


def number(name: str, value: Any, lo: float, hi: float = math.inf, rule: str = "") -> float:
    """``value`` as a finite float in [lo, hi], else one line naming ``name``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and lo <= value <= hi
    if not ok:
        raise KinetypeError(f"{name} must be {rule or f'a finite number from {lo} to {hi}'}, got {value!r}")
    return float(value)


def random_seed(value: Any, name: str = "--seed") -> int:
    return whole(name, value, 0, MAX_SEED)


MAX_STEPS = 10_000  # sampling steps; far past where every solver has converged


def sampling(*, steps: Any, guidance: Any, seed: Any, sampler: Any, prefix: str = "") -> None:
    """What every way of sampling a clip takes (``kinetype generate``, ``eval model``, a
    ``Pipeline`` called from Python): ``prefix`` ``"--"`` names the options, ``""`` the arguments."""
    from kinetype.sample import SAMPLERS

    whole(f"{prefix}steps", steps, 1, MAX_STEPS)
    number(f"{prefix}guidance", guidance, 0.0, rule="a finite number >= 0 (1 = no guidance)")
    random_seed(seed, f"{prefix}seed")
    if sampler not in SAMPLERS:
        raise KinetypeError(f"{prefix}sampler {sampler!r}: choose from {', '.join(SAMPLERS)}")


def text_list(name: str, value: Any, length: int | None = None) -> list[str]:
    """A list (or tuple) of strings, of ``length`` items when given (captions of one batch)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise KinetypeError(f"{name} must be a list of strings (one per clip), got {type(value).__name__}")
    odd = [v for v in value if not isinstance(v, str)]
    if odd:
        raise KinetypeError(f"{name} must be a list of strings (one per clip), it holds {odd[0]!r}")
    if not value:
        raise KinetypeError(f"{name} is empty: give one caption per clip")
    if length is not None and len(value) != length:
        raise KinetypeError(f"{name} has {len(value)} item(s), the batch has {length}: one per clip")
    return list(value)
