"""The solver registry: a name for each solver, as ``kinetype generate --sampler`` and the trainer's
validation samples choose them. Every solver has the signature
``solver(denoise, x_T, times, objective) -> x_0`` (see :mod:`kinetype.sample`); the settings that
choose one are :class:`kinetype.sample.settings.SamplingSettings`."""

from __future__ import annotations

from kinetype.sample.ddim import ddim
from kinetype.sample.dpm_solver import dpm_solver_2m
from kinetype.sample.euler import euler
from kinetype.sample.settings import SAMPLER_NAMES

SAMPLERS = dict(zip(SAMPLER_NAMES, (ddim, dpm_solver_2m, euler)))
