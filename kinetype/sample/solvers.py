"""The solver registry: a name for each solver, as ``kinetype generate --sampler`` and the trainer's
validation samples choose them. Every solver has the signature
``solver(denoise, x_T, times, objective) -> x_0`` (see :mod:`kinetype.sample`)."""

from __future__ import annotations

from typing import Any

from kinetype.errors import KinetypeError, number, random_seed, whole
from kinetype.sample.ddim import ddim
from kinetype.sample.dpm_solver import dpm_solver_2m
from kinetype.sample.euler import euler

SAMPLERS = {"ddim": ddim, "dpm++": dpm_solver_2m, "euler": euler}
MAX_STEPS = 10_000  # sampling steps; far past where every solver has converged


def check_sampling(*, steps: Any, guidance: Any, seed: Any, sampler: Any, prefix: str = "") -> None:
    """What every way of sampling a clip takes (``kinetype generate``, ``eval model``, a
    ``Pipeline`` called from Python): ``prefix`` ``"--"`` names the options, ``""`` the arguments."""
    whole(f"{prefix}steps", steps, 1, MAX_STEPS)
    number(f"{prefix}guidance", guidance, 0.0, rule="a finite number >= 0 (1 = no guidance)")
    random_seed(seed, f"{prefix}seed")
    if sampler not in SAMPLERS:
        raise KinetypeError(f"{prefix}sampler {sampler!r}: choose from {', '.join(SAMPLERS)}")
