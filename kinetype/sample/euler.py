"""Euler: first-order steps on the probability-flow ODE in the schedule's own time,

    dx/dt = alpha'(t) x0_hat + sigma'(t) eps_hat,    x_s = x_t + (s - t) dx/dt.

For rectified flow (alpha = 1 - t, sigma = t) this is the standard flow-matching Euler sampler,
dx/dt = eps_hat - x0_hat = the predicted velocity (and coincides with DDIM).
"""

from __future__ import annotations

import torch

from kinetype.model.objective import alpha_sigma_derivative


def euler(denoise, x: torch.Tensor, times: torch.Tensor, objective: str, progress=None) -> torch.Tensor:
    for i in range(len(times) - 1):
        t, s = times[i], times[i + 1]
        x0, eps = denoise(x, t)
        d_alpha, d_sigma = alpha_sigma_derivative(t, objective)
        x = x + (s - t) * (d_alpha * x0 + d_sigma * eps)
        if progress:
            progress(i)
    # The last evaluation's x0_hat is the clean estimate the ODE is heading for at t = 0.
    return x
