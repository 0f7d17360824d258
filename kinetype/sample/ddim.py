"""DDIM (Song et al. 2021), deterministic (eta = 0): x_s = alpha_s * x0_hat + sigma_s * eps_hat.

For rectified flow this is exactly the Euler step of the flow ODE.
"""

from __future__ import annotations

import torch

from kinetype.model.objective import alpha_sigma


def ddim(denoise, x: torch.Tensor, times: torch.Tensor, objective: str, progress=None) -> torch.Tensor:
    """``denoise(x, t) -> (x0_hat, eps_hat)``; ``times`` decreasing from 1 to 0 (steps + 1 values)."""
    for i in range(len(times) - 1):
        x0, eps = denoise(x, times[i])
        alpha_s, sigma_s = alpha_sigma(times[i + 1], objective)
        x = alpha_s * x0 + sigma_s * eps
        if progress:
            progress(i)
    return x
