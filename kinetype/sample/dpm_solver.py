"""DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Alg. 2): second-order multistep in the data
prediction x0_hat, with lambda = log(alpha / sigma).

    h = lambda_s - lambda_t
    x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D,
    D = (1 + 1/(2r)) x0_hat_t - 1/(2r) x0_hat_prev,   r = h_prev / h   (first order where h is infinite)

Written with e^{-h} = alpha_t sigma_s / (sigma_t alpha_s) so that t = 1 of rectified flow (alpha = 0)
and the final step to sigma = 0 need no infinities: both take the first-order (DDIM) step. Every
coefficient depends on the times alone, so all are computed on the host before the first step.
"""

from __future__ import annotations

import math

import torch

from kinetype.sample.schedule import alphas_sigmas


def _lam(alpha: float, sigma: float) -> float:
    if alpha == 0.0:
        return -math.inf
    if sigma == 0.0:
        return math.inf
    return math.log(alpha) - math.log(sigma)


def dpm_solver_2m(denoise, x: torch.Tensor, times: list[float], objective: str, progress=None) -> torch.Tensor:
    alpha, sigma = alphas_sigmas(times, objective)
    lam = [_lam(a, s) for a, s in zip(alpha, sigma)]
    prev_x0, prev_h = None, math.inf
    for i in range(len(times) - 1):
        x0, _ = denoise(x, times[i])
        h = lam[i + 1] - lam[i]
        d = x0
        if prev_x0 is not None and math.isfinite(h) and math.isfinite(prev_h):
            r = prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
        # -alpha_s (e^{-h} - 1) = alpha_s - alpha_t sigma_s / sigma_t
        x = (sigma[i + 1] / sigma[i]) * x + (alpha[i + 1] - alpha[i] * sigma[i + 1] / sigma[i]) * d
        prev_x0, prev_h = x0, h
        if progress:
            progress(i)
    return x
