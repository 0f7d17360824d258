"""Sampling, apart from the network: solvers (one file each) and classifier-free guidance.

Every solver has the same signature, ``solver(denoise, x_T, times, objective) -> x_0``, where
``denoise(x, t) -> (x0_hat, eps_hat)`` already includes guidance.
"""

from __future__ import annotations

from kinetype.sample.ddim import ddim
from kinetype.sample.dpm_solver import dpm_solver_2m
from kinetype.sample.euler import euler
from kinetype.sample.guidance import sample_latents
from kinetype.sample.solvers import SAMPLERS

__all__ = ["SAMPLERS", "ddim", "dpm_solver_2m", "euler", "sample_latents"]
