"""DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Alg. 2): second-order multistep in the data
prediction x0_hat, with lambda = log(alpha / sigma).

    h = lambda_s - lambda_t
    x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D,
    D = (1 + 1/(2r)) x0_hat_t - 1/(2r) x0_hat_prev,   r = h_prev / h   (first order where h is infinite)

Written with e^{-h} = alpha_t sigma_s / (sigma_t alpha_s) so that t = 1 of rectified flow (alpha = 0)
and the final step to sigma = 0 need no infinities: both take the first-order (DDIM) step.
"""

from __future__ import annotations

import torch

from kinetype.model.objective import alpha_sigma


def _lam(alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return torch.log(alpha) - torch.log(sigma)  # +-inf at the ends, handled below


def dpm_solver_2m(denoise, x: torch.Tensor, times: torch.Tensor, objective: str, progress=None) -> torch.Tensor:
    prev_x0, prev_h = None, None
    for i in range(len(times) - 1):
        t, s = times[i], times[i + 1]
        x0, _ = denoise(x, t)
        alpha_t, sigma_t = alpha_sigma(t, objective)
        alpha_s, sigma_s = alpha_sigma(s, objective)
        h = _lam(alpha_s, sigma_s) - _lam(alpha_t, sigma_t)
        d = x0
        if prev_x0 is not None and torch.isfinite(h) and torch.isfinite(prev_h):
            r = prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
        # -alpha_s (e^{-h} - 1) = alpha_s - alpha_t sigma_s / sigma_t
        x = (sigma_s / sigma_t) * x + (alpha_s - alpha_t * sigma_s / sigma_t) * d
        prev_x0, prev_h = x0, h
        if progress:
            progress(i)
    return x
