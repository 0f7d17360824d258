"""The diffusion objective: how x_t is built from clean latents x0 and noise, and what the network predicts.

Every objective is written as  x_t = alpha(t) * x0 + sigma(t) * eps,  t in [0, 1], t = 1 is noise.

- ``flow`` (rectified flow, Liu et al. 2022; SD3): alpha = 1 - t, sigma = t; the network predicts the
  velocity  u = eps - x0.  Default: the straight path samples well in few steps and has no
  terminal-SNR problem (alpha(1) = 0 exactly, so generation starts from pure noise as in training).
- ``v`` (Salimans & Ho 2022): the Stable Diffusion "scaled linear" variance-preserving schedule
  (beta from 0.00085 to 0.012 over 1000 steps, made continuous); the network predicts
  v = alpha * eps - sigma * x0.
- ``eps``: same schedule, the network predicts eps (the KineTy paper / SD 1.5 parametrisation).

The schedule is a pure function (:func:`alpha_sigma`); samplers and losses only need
:func:`predict_x0_eps`, which turns any network output into the pair (x0_hat, eps_hat).
"""

from __future__ import annotations

import math

import torch

OBJECTIVES = ("flow", "v", "eps")

# Stable Diffusion's scaled-linear betas: beta_i = (a + (b - a) i / N)^2, N = 1000.
_SD_N = 1000
_SD_A = math.sqrt(0.00085)
_SD_B = math.sqrt(0.012)


def alpha_sigma(t: torch.Tensor, objective: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal and noise scales at time ``t`` (any shape, float in [0, 1])."""
    if objective == "flow":
        return 1.0 - t, t
    if objective in ("v", "eps"):
        # Continuous SD schedule: alpha_bar(t) = exp(-N * integral_0^t (a + (b-a) s)^2 ds).
        d = _SD_B - _SD_A
        integral = ((_SD_A + d * t) ** 3 - _SD_A**3) / (3.0 * d)
        alpha_bar = torch.exp(-_SD_N * integral)
        return alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt()
    raise ValueError(f"unknown objective {objective!r}: choose from {OBJECTIVES}")


def _bcast(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return a.reshape(a.shape + (1,) * (like.ndim - a.ndim)).to(like.dtype)


def add_noise(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, objective: str) -> torch.Tensor:
    """x_t for per-sample times ``t`` of shape (B,)."""
    alpha, sigma = alpha_sigma(t, objective)
    return _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * eps


def target(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, objective: str) -> torch.Tensor:
    """What the network is trained to output."""
    if objective == "flow":
        return eps - x0
    if objective == "v":
        alpha, sigma = alpha_sigma(t, objective)
        return _bcast(alpha, x0) * eps - _bcast(sigma, x0) * x0
    if objective == "eps":
        return eps
    raise ValueError(f"unknown objective {objective!r}")


def predict_x0_eps(
    x_t: torch.Tensor, out: torch.Tensor, t: torch.Tensor, objective: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0_hat, eps_hat) from the network output ``out`` at x_t; t has shape (B,) or is a scalar."""
    t = t.expand(x_t.shape[0]) if t.ndim == 0 else t
    alpha, sigma = (_bcast(s, x_t) for s in alpha_sigma(t.float(), objective))
    if objective == "flow":  # out = eps - x0,  x_t = (1-t) x0 + t eps
        return x_t - sigma * out, x_t + alpha * out
    if objective == "v":  # alpha^2 + sigma^2 = 1
        return alpha * x_t - sigma * out, sigma * x_t + alpha * out
    if objective == "eps":
        return (x_t - sigma * out) / alpha.clamp_min(1e-4), out
    raise ValueError(f"unknown objective {objective!r}")


def sample_times(batch: int, generator: torch.Generator, objective: str) -> torch.Tensor:
    """Training times (B,) on the generator's device: uniform for the VP schedules (DDPM practice),
    logit-normal for flow (SD3, Esser et al. 2024, which puts more steps in the middle where the
    velocity is hardest to predict)."""
    if objective == "flow":
        return torch.sigmoid(torch.randn(batch, generator=generator, device=generator.device))
    return torch.rand(batch, generator=generator, device=generator.device).clamp(1e-3, 1.0)


def alpha_sigma_derivative(t: torch.Tensor, objective: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(d alpha / dt, d sigma / dt), for the Euler sampler."""
    if objective == "flow":
        return -torch.ones_like(t), torch.ones_like(t)
    alpha, sigma = alpha_sigma(t, objective)
    beta = _SD_N * (_SD_A + (_SD_B - _SD_A) * t) ** 2  # d/dt of -log(alpha_bar)
    alpha_bar = alpha**2
    return -0.5 * beta * alpha, 0.5 * beta * alpha_bar / sigma.clamp_min(1e-6)
