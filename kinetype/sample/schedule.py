"""The sampling schedule on the host: times and every per-step scale, as Python floats.

A solver's coefficients depend on the times alone, so they are computed once, in float64, before
the first network call; a solver step then multiplies device tensors by plain numbers and never
copies a time to the device or reads a value back from it.
"""

from __future__ import annotations

import torch

from kinetype.model.objective import alpha_sigma, alpha_sigma_derivative


def sample_times(steps: int) -> list[float]:
    """``steps + 1`` times from 1 (noise) to 0 (data), evenly spaced."""
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64).tolist()


def alphas_sigmas(times: list[float], objective: str) -> tuple[list[float], list[float]]:
    alpha, sigma = alpha_sigma(torch.tensor(times, dtype=torch.float64), objective)
    return alpha.tolist(), sigma.tolist()


def derivatives(times: list[float], objective: str) -> tuple[list[float], list[float]]:
    d_alpha, d_sigma = alpha_sigma_derivative(torch.tensor(times, dtype=torch.float64), objective)
    return d_alpha.tolist(), d_sigma.tolist()
