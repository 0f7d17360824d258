"""Euler: first-order steps on the probability-flow ODE in the schedule's own time,

    dx/dt = alpha'(t) x0_hat + sigma'(t) eps_hat,    x_s = x_t + (s - t) dx/dt.

For rectified flow (alpha = 1 - t, sigma = t) this is the standard flow-matching Euler sampler,
dx/dt = eps_hat - x0_hat = the predicted velocity (and coincides with DDIM).
"""

from __future__ import annotations

import torch

from kinetype.sample.schedule import derivatives


def euler(denoise, x: torch.Tensor, times: list[float], objective: str, progress=None) -> torch.Tensor:
    d_alpha, d_sigma = derivatives(times, objective)
    for i in range(len(times) - 1):
        x0, eps = denoise(x, times[i])
        dt = times[i + 1] - times[i]
        x = x + dt * d_alpha[i] * x0 + dt * d_sigma[i] * eps
        if progress:
            progress(i)
    return x
