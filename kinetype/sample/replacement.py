"""Given frames pinned while sampling: the replacement method (Song et al. 2021, Sec. 5 and App. I;
Ho et al. 2022, *Video Diffusion Models*, Sec. 3.1), applied to the prediction.

A clip that must pass through known frames (a design to animate, the design it ends on, a loop's
first frame) has clean latents g_i for those frames i. At every solver call the network predicts
(x̂₀, ε̂) for all frames; for a given frame the prediction is replaced by

    x̂₀_i = g_i,      ε̂_i = (x_t,i − α(t) g_i) / σ(t)

(the noise that puts g_i at x_t,i). DDIM and DPM-Solver++ step from the pair as x_s = α(s) x̂₀ +
σ(s) ε̂ (DPM-Solver++'s multistep combination of x̂₀'s is g_i again), so a given frame that starts
as pure noise n stays exactly on its own noising path x_t,i = α(t) g_i + σ(t) n and ends at g_i;
Euler does so on rectified flow's straight path and to first order on the curved ones, and the
solver's result is set to g_i at the end (:func:`pinned`) so that every solver returns it exactly.
The other frames are denoised beside it: the temporal layers see the given frame at the same noise
level as themselves, as in training, and its content reaches them from the first step.

It needs no training, so any model can animate a design; a model trained with given frames
(:mod:`kinetype.model.frames`) also gets them as input planes. What it cannot make is a frame the
model would not put next to the given one: the replaced frame is exact, its neighbours are the
model's.

A loop made from text alone has no design to pin. It is sampled a few frames past its end with
those frames *tied* to the first ones (:func:`tied`): each pair starts from the same noise and gets
the mean of its two predictions at every call, so the pair stays one latent at every noise level,
and the step from the last frame into the first is sampled as any step inside the clip.

Any step: as large as the clip's typical one where the letters rest, larger where they move. The
seam is then smoothed (:func:`seam_smoothed`): near noise the frames either side of it, T-1 and 0,
are pulled onto the mean of their two neighbours on the prediction, with a weight that falls with
the noise share to nothing at the data, so the two frames agree on layout and colour from the first
steps and the network alone draws their detail. It is mitigating-gradient guidance's calibrated step
(:mod:`kinetype.sample.mitigate`: ``s · w(t) = 1`` moves a frame onto its neighbours' mean) taken on
x̂₀ directly, without the backward pass, and on the seam's two frames only: no extra network call.
"""

from __future__ import annotations

from typing import Callable

import torch

from kinetype.model.frames import Given
from kinetype.sample.mitigate import noise_share
from kinetype.sample.schedule import alphas_sigmas

Denoise = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]


def replaced(denoise: Denoise, given: Given | None, objective: str, times: list[float]) -> Denoise:
    """``denoise`` (x_t (B, T, C, h, w), t) -> (x̂₀, ε̂) with the frames ``given`` flags pinned to
    its latents at the solver's ``times``; ``denoise`` itself where nothing is given. Every time's
    α and σ are host floats computed here, as :func:`kinetype.sample.mitigate.mitigated` does."""
    if given is None:
        return denoise
    flags = given.flags.bool()[:, :, None, None, None]  # (B, T, 1, 1, 1)
    schedule = dict(zip(times, zip(*alphas_sigmas(times, objective))))  # t -> (alpha, sigma)

    def fn(x: torch.Tensor, t: float):
        x0, eps = denoise(x, t)
        g = given.latents.to(x0.dtype)
        alpha, sigma = schedule[t]
        pinned = (x - alpha * g) / max(sigma, 1e-4)
        return torch.where(flags, g, x0), torch.where(flags, pinned.to(eps.dtype), eps)

    return fn


def pinned(x: torch.Tensor, given: Given | None) -> torch.Tensor:
    """The solver's result (B, T, C, h, w) with the given frames set to their latents."""
    if given is None:
        return x
    return torch.where(given.flags.bool()[:, :, None, None, None], given.latents.to(x.dtype), x)


def tied(denoise: Denoise, overlap: int = 1) -> Denoise:
    """``denoise`` with the clip's last ``overlap`` frames tied to its first (B, T, C, h, w): frames
    T - k + j and j (j < k = ``overlap``) both get the mean of their two predictions, x̂₀ and ε̂. The
    network predicts the first frames from the frames after them and the last from the frames
    before them; the mean is one frame that fits both sides. With the same x_t (:func:`tie_noise`)
    tied frames then take the same step in every solver, each step being a function of x_t and the
    predictions, so they stay equal to the end. ``overlap`` 0: ``denoise`` itself."""
    if overlap <= 0:
        return denoise

    def fn(x: torch.Tensor, t: float):
        x0, eps = denoise(x, t)
        return _tie(x0, overlap), _tie(eps, overlap)

    return fn


def seam_smoothed(denoise: Denoise, frames: int, scale: float, objective: str, times: list[float],
                  given: Given | None = None) -> Denoise:
    """``denoise`` for a loop of ``frames`` frames T sampled past its end with its first frames
    tied (:func:`tied`: frame T + j is frame j), its seam smoothed (x (B, T + k, C, h, w), k ≥ 1):

        x̂₀'[T-1] = x̂₀[T-1] + a (½ (x̂₀[T-2] + x̂₀[T]) - x̂₀[T-1])
        x̂₀'[0]   = x̂₀[0]   + a (½ (x̂₀[T-1] + x̂₀[1]) - x̂₀[0]),      x̂₀'[T + j] = x̂₀'[j]
        ε̂'       = ε̂ + (α / σ) (x̂₀ - x̂₀'),                         a = scale · σ² / (α² + σ²)

    so x_t = α x̂₀ + σ ε̂ still holds and the tied frames stay equal. Frames ``given`` flags stay
    their latents (they are pinned again after the smoothing). ``scale`` 0, or fewer than three
    frames (the seam has no other neighbours): ``denoise`` itself."""
    if scale <= 0.0 or frames < 3:
        return denoise
    coefficients = dict(zip(times, zip(*alphas_sigmas(times, objective))))  # t -> (α, σ)
    weight = {t: scale * noise_share(a, s) for t, (a, s) in coefficients.items()}
    ratio = {t: a / max(s, 1e-4) for t, (a, s) in coefficients.items()}
    last = frames - 1

    def fn(x: torch.Tensor, t: float):
        x0, eps = denoise(x, t)  # (B, T + k, C, h, w) each, the tied frames equal
        a = weight[t]
        new = x0.clone()
        new[:, last] = x0[:, last] + a * ((x0[:, last - 1] + x0[:, last + 1]) / 2 - x0[:, last])
        new[:, 0] = x0[:, 0] + a * ((x0[:, last] + x0[:, 1]) / 2 - x0[:, 0])
        new[:, frames] = new[:, 0]
        return new, eps + ratio[t] * (x0 - new)

    return replaced(fn, given, objective, times)


def tie_noise(x: torch.Tensor, overlap: int = 1) -> torch.Tensor:
    """Initial noise (B, T, C, h, w) with the last ``overlap`` frames' set to the first's (:func:`tied`)."""
    return x if overlap <= 0 else torch.cat([x[:, :-overlap], x[:, :overlap]], 1)


def _tie(a: torch.Tensor, k: int) -> torch.Tensor:
    mean = (a[:, :k] + a[:, -k:]) / 2
    return torch.cat([mean, a[:, k:-k], mean], 1)
