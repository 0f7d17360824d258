"""User-facing errors, and the checks of the numbers a user gives that raise them.

Each error carries a one-line message the CLI prints without a traceback. Each check takes the
name the caller knows the value by (``--seed`` on the command line, ``seed`` in Python) and raises
one :class:`KinetypeError` line naming it, the range and the value, before any work starts. Types
are part of the rule: ``True`` is not a size, ``"64"`` is not a number, ``64.0`` is not a frame
count. A leaf module: every part of kinetype, the engine included, may import it.
"""

from __future__ import annotations

import math
from typing import Any


class KinetypeError(Exception):
    """Base class for errors caused by user input (bad word, bad template file, missing model...)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is (the handler ``python -m kinetype`` installs first),
    so every clean-up written for Ctrl-C (workers stopped, temporary files removed, finished work
    kept) runs for ``kill`` too; reported as "terminated", exit status 143."""


def raise_terminated(signum, frame):
    raise Terminated()


class WordError(KinetypeError, ValueError):
    """A word outside the engine's alphabet (A–Z, a–z) or length (1–12 letters)."""


class TemplateError(KinetypeError, ValueError):
    """A template file that does not follow the schema; the message names the file and the field."""

    def __init__(self, path: str, field: str, message: str):
        self.path, self.field = str(path), field
        super().__init__(f"{path}: {field}: {message}" if field else f"{path}: {message}")


class FontError(KinetypeError):
    """A font that cannot be used (missing file, missing one of the 52 letters)."""


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
