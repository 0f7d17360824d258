"""Mitigating-gradient (MG) sampling (HARIVO, Kwon et al. 2024, §3.7, Algorithm 1): at every solver
step, a guidance term from the gradient of a robust measure of the differences between consecutive
frames of the predicted clean latents pulls the frames together, strongest near noise and fading
to nothing at the data. Training-free; it wraps ``denoise(x, t) -> (x0_hat, eps_hat)``, so every
solver in :mod:`kinetype.sample` gets it unchanged.

The measure, per clip, on the predicted clean latents x̂₀ of shape (B, T, C, h, w):

    d_i = mean_{c,y,x} (x̂₀[:, i+1] - x̂₀[:, i])²        i = 0 … T-2            (B, T-1)
    m   = sg[ median_i d_i ]                             (B,)  sg: no gradient
    E   = Σ_i log(1 + d_i / m)                           (B,)

E is minus the log of a product of consecutive-frame similarities k_i = 1 / (1 + d_i / m) — a
Cauchy kernel whose bandwidth is the clip's median difference. The paper names the median and the
logarithm as what makes its kernel robust to outliers among the frame differences and to the clip
length; the text copy we work from (``shared/papers/004_*``) lost the formulas, so this module
states its own reading: the median sets the scale from the typical pair whatever the number of
frames, and the logarithm lets a pair far above it (a cut, a fast move) pull ~m/d as hard as a
typical one instead of dominating the step, as a squared difference would.

The guidance is classifier guidance (the paper's Eq. 6, μ + sΣ∇log f) written on the prediction,
so the pair stays consistent with x_t = α_t x̂₀ + σ_t ε̂ and each solver steps with it as it is:

    g    = ∇_{x_t} Σ_b E_b                               (B, T, C, h, w)  through the network
    x̂₀' = x̂₀ - s · w(t) · (N m / 2) · g,  w(t) = σ_t² / (α_t² + σ_t²),  N = C·h·w
    ε̂'  = ε̂ + (α_t / σ_t) · (x̂₀ - x̂₀')

w(t), the noise share of x_t, is 1 at pure noise and 0 at the data (the paper's Σ: "it impacts
greatly when near noise"). The factor N m / 2 is a per-clip constant step size that makes the
scale s mean something: where x̂₀ follows x_t one to one, (N m / 2) ∂E/∂x̂₀[i] is
Σ_j (x̂₀[i] - x̂₀[j]) · m / (m + d_ij) over the neighbours j = i ± 1, so s · w = 1 moves a frame whose
two differences are typical (d = m, weight 1/2) onto the mean of its neighbours, s = 0.5 half-way.
Above ~0.5 frames with near-identical neighbours (weights → 1) overshoot, so useful scales are 0–0.5.
That calibration holds for the flow and v objectives (tests/test_sample_mitigate.py measures both);
with eps, x̂₀ = (x_t - σ ε̂) / α follows x_t 1/α to one near noise, so a given s acts harder there.
"""

from __future__ import annotations

from typing import Callable

import torch

from kinetype.sample.settings import check_mg_scale
from kinetype.sample.schedule import alphas_sigmas

Denoise = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]


def frame_differences(x0: torch.Tensor) -> torch.Tensor:
    """d_i: mean squared difference of consecutive frames, (B, T, C, h, w) -> (B, T-1)."""
    return (x0[:, 1:] - x0[:, :-1]).float().pow(2).mean(dim=(2, 3, 4))


def median_scale(d: torch.Tensor) -> torch.Tensor:
    """m: the median difference of each clip, detached, (B, T-1) -> (B, 1); a floor keeps a still
    clip (every d = 0) finite."""
    return d.detach().median(dim=1, keepdim=True).values.clamp_min(1e-12)


def mg_energy(x0: torch.Tensor) -> torch.Tensor:
    """E = Σ_i log(1 + d_i / m): the robust measure MG lowers, (B, T, C, h, w) -> (B,); 0 for one frame."""
    if x0.shape[1] < 2:
        return x0.new_zeros(x0.shape[0])
    d = frame_differences(x0)  # (B, T-1)
    return torch.log1p(d / median_scale(d)).sum(dim=1)


def noise_share(alpha: float, sigma: float) -> float:
    """w(t) = σ² / (α² + σ²): 1 at pure noise, 0 at the data."""
    return sigma * sigma / (alpha * alpha + sigma * sigma)


def mitigated(denoise: Denoise, scale: float, objective: str, times: list[float]) -> Denoise:
    """``denoise`` with MG guidance of strength ``scale`` at the solver's ``times`` (0 returns
    ``denoise`` itself).

    One extra backward pass through the network per step (the gradient is taken with respect to the
    step's input latent, as classifier guidance is). Every time's α and σ are host floats computed
    here, before the first step, so a step still copies nothing to the device and reads nothing back.
    """
    scale = check_mg_scale(scale, "mg scale")
    if scale == 0.0:
        return denoise
    schedule = dict(zip(times, zip(*alphas_sigmas(times, objective))))  # t -> (alpha, sigma)

    def guided(x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] < 2:  # one frame: nothing to smooth
            return denoise(x, t)
        alpha, sigma = schedule[t]
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)  # (B, T, C, h, w)
            x0, eps = denoise(x_in, t)  # (B, T, C, h, w) each, float32
            d = frame_differences(x0)  # (B, T-1)
            m = median_scale(d)  # (B, 1)
            energy = torch.log1p(d / m).sum()  # Σ_b E_b: clips are independent, one backward serves all
            (grad,) = torch.autograd.grad(energy, x_in)  # (B, T, C, h, w)
        n = x0[0, 0].numel()  # N = C·h·w
        step = (scale * noise_share(alpha, sigma) * n / 2) * m.view(-1, 1, 1, 1, 1) * grad.float()
        # x_t = α x̂₀ + σ ε̂ still holds: ε̂ takes up what x̂₀ gave (σ > 0 wherever a solver evaluates).
        return x0.detach() - step, eps.detach() + (alpha / sigma) * step

    return guided
