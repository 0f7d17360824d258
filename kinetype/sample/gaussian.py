"""A solver check with a known answer: the probability-flow ODE of Gaussian data.

For data N(0, s²) the exact denoiser is E[x0 | x_t] = α s² / (α² s² + σ²) · x_t, and the ODE maps
noise of std √(α(1)² s² + σ(1)²) to data of std s. Running a solver with that denoiser and
comparing the sample std with the exact one measures the solver's error on a schedule alone —
how flow, v and ε compare in few steps, without training anything.
"""

from __future__ import annotations

import math

import torch

from kinetype.model.objective import alpha_sigma
from kinetype.sample.schedule import sample_times
from kinetype.sample.solvers import SAMPLERS

DATA_STD = 0.5


def gaussian_run(objective: str, sampler: str, steps: int, n: int = 20000) -> tuple[float, float]:
    """(std of the samples, exact std the ODE maps this noise to), float64 on the CPU."""
    def denoise(x, t):
        a, s = alpha_sigma(torch.as_tensor(t, dtype=torch.float64), objective)
        x0 = a * DATA_STD**2 / (a**2 * DATA_STD**2 + s**2) * x  # E[x0 | x_t]
        eps = (x - a * x0) / s if s > 0 else torch.zeros_like(x)
        return x0, eps

    a1, s1 = alpha_sigma(torch.tensor(1.0, dtype=torch.float64), objective)
    x = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = x * math.sqrt(a1**2 * DATA_STD**2 + s1**2)  # the marginal at t = 1 (unit noise for flow)
    exact = float(x.std()) * DATA_STD / math.sqrt(a1**2 * DATA_STD**2 + s1**2)
    out = SAMPLERS[sampler](denoise, x, sample_times(steps), objective)
    return float(out.std()), exact


def relative_error(objective: str, sampler: str, steps: int) -> float:
    got, exact = gaussian_run(objective, sampler, steps)
    return abs(got - exact) / exact
