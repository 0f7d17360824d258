"""The sampling settings — solver, step count, guidance scale, mitigating-gradient scale — with their defaults and bounds,
each written once. ``kinetype generate``'s and ``eval model``'s options, ``Pipeline.__call__``,
``evaluate_model`` and the trainer's validation samples all read them from here.

A :class:`SamplingSettings` is checked when it is made: a bad value is one line naming the option
(``--steps must be 1 to 10000, got 0``). Importing this module costs nothing (the CLI reads the
defaults for its ``--help``); the solver registry, which needs torch, is read only to check a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinetype.errors import KinetypeError, number, whole

MAX_STEPS = 10_000  # far past where every solver has converged
MAX_GUIDANCE = 100.0  # useful scales are 1 to about 15; past 100 the clip is saturated noise
# The solvers' names, here and not beside the solvers (kinetype.sample.solvers, which needs torch):
# the CLI's --help and every check read them for free; the registry is keyed by them.
SAMPLER_NAMES = ("ddim", "dpm++", "euler")


MG_SCALE_DEFAULT = 0.0
"""``--mg`` when not given: off until measured on the bundled model (benchmarks/motion_options.py mg)."""
MAX_MG_SCALE = 10.0
"""Twenty times the useful range (kinetype/sample/mitigate.py): past it the step along the gradient
outgrows the latent itself."""


def check_sampler(value: Any, name: str = "--sampler") -> str:
    if not isinstance(value, str) or value not in SAMPLER_NAMES:
        raise KinetypeError(f"{name} {value!r}: choose from {', '.join(SAMPLER_NAMES)}")
    return value


def check_steps(value: Any, name: str = "--steps") -> int:
    return whole(name, value, 1, MAX_STEPS)


def check_guidance(value: Any, name: str = "--guidance") -> float:
    # 0 is the unconditional model, 1 the conditional one alone; above 1 pushes past it.
    return number(name, value, 0.0, MAX_GUIDANCE, rule=f"a number from 0 to {MAX_GUIDANCE:g} (1 = no guidance)")


def check_mg_scale(scale: Any, name: str = "--mg") -> float:
    """The mitigating-gradient scale as a float, or a one-line error naming the option."""
    return number(name, scale, 0.0, MAX_MG_SCALE, rule=f"a number from 0 to {MAX_MG_SCALE:g} (0 = off)")


@dataclass(frozen=True)
class SamplingSettings:
    """How a clip is sampled: ``steps`` steps of ``sampler`` with classifier-free guidance ``guidance``."""

    sampler: str = "dpm++"  # one of SAMPLER_NAMES
    steps: int = 25
    guidance: float = 3.0

    def __post_init__(self):
        check_sampler(self.sampler)
        check_steps(self.steps)
        check_guidance(self.guidance)
