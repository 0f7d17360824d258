"""Sampling, apart from the network: solvers (one file each) and classifier-free guidance.
Every solver has the same signature, ``solver(denoise, x_T, times, objective) -> x_0``, where
``denoise(x, t) -> (x0_hat, eps_hat)`` already includes guidance.

The solvers and ``sample_latents`` are imported lazily (they import torch), so that
``kinetype.sample.settings`` stays cheap for the CLI, which reads its defaults.
"""

from __future__ import annotations

__all__ = ["SAMPLERS", "ddim", "dpm_solver_2m", "euler", "sample_latents"]


def __getattr__(name: str):
    if name in ("SAMPLERS", "ddim", "dpm_solver_2m", "euler"):
        from kinetype.sample import solvers

        return getattr(solvers, name)
    if name == "sample_latents":
        from kinetype.sample.guidance import sample_latents

        return sample_latents
    raise AttributeError(name)
