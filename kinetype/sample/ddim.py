"""DDIM (Song et al. 2021), deterministic (eta = 0): x_s = alpha_s * x0_hat + sigma_s * eps_hat.

For rectified flow this is exactly the Euler step of the flow ODE.
"""

from __future__ import annotations

import torch

from kinetype.sample.schedule import alphas_sigmas


def ddim(denoise, x: torch.Tensor, times: list[float], objective: str, progress=None) -> torch.Tensor:
    """``denoise(x, t) -> (x0_hat, eps_hat)``; ``times`` decreasing from 1 to 0 (steps + 1 values)."""
    alpha, sigma = alphas_sigmas(times, objective)
    for i in range(len(times) - 1):
        x0, eps = denoise(x, times[i])
        x = alpha[i + 1] * x0 + sigma[i + 1] * eps
        if progress:
            progress(i)
    return x
