"""The noise prior: Gaussian noise for a clip's latents whose frames share a component (PYoCo).

Independent noise makes every frame of a clip start from its own draw, and the model must learn to
undo all of that difference to give steady frames; noise that is already alike across frames starts
the clip closer to a video (Ge et al. 2023, "Preserve Your Own Correlation", PYoCo). Both priors below
keep every element a standard normal, so nothing else in the objective changes: the same x_t = a x0 +
s eps, the same targets, the same solvers. ``correlation`` is rho, the correlation of one latent
element between consecutive frames:

- ``mixed``:       eps_f = sqrt(rho) * shared + sqrt(1 - rho) * n_f,  corr(eps_f, eps_g) = rho for f != g.
- ``progressive``: eps_0 = n_0,  eps_f = rho * eps_{f-1} + sqrt(1 - rho^2) * n_f,  corr = rho^|f - g|
  (an AR(1) chain: near frames alike, far frames free).
- ``independent`` (rho = 0 in either form): eps = n, drawn exactly as ``torch.randn(shape)``, so
  models trained before this option give the same clips byte for byte.

with n and shared standard normals: n of the clip's shape (B, T, C, h, w), shared of shape
(B, 1, C, h, w). A model is sampled from the prior it was trained with (``model_index.json`` records
it); PYoCo's alpha maps to rho = alpha^2 / (1 + alpha^2).
"""

from __future__ import annotations

import math

import torch

from kinetype.model.config import NOISE_KINDS, NoiseConfig

__all__ = ["NOISE_KINDS", "NoiseConfig", "draw_noise", "frame_correlation"]


def frame_correlation(prior: NoiseConfig, lag: int) -> float:
    """The correlation the prior states between frames ``lag`` apart (1.0 at lag 0)."""
    if lag == 0:
        return 1.0
    if prior.kind == "mixed":
        return prior.correlation
    if prior.kind == "progressive":
        return prior.correlation ** abs(lag)
    return 0.0


def draw_noise(shape: tuple[int, ...], generator: torch.Generator, prior: NoiseConfig, *,
               device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard-normal noise of ``shape`` = (B, T, ...) with ``prior``'s correlation across T.

    The independent part is drawn first and alone by the generator, so an independent prior is
    ``torch.randn(shape, generator=generator)`` exactly; the shared part is drawn after it.
    """
    device = generator.device if device is None else device
    n = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    rho = prior.correlation
    if prior.kind == "independent" or rho == 0.0 or shape[1] == 1:
        return n
    if prior.kind == "mixed":
        shared = torch.randn((shape[0], 1, *shape[2:]), generator=generator, device=device, dtype=dtype)
        return math.sqrt(rho) * shared + math.sqrt(1.0 - rho) * n
    # progressive: frame by frame (T is tens of frames; each step is one fused multiply-add)
    keep, fresh = rho, math.sqrt(1.0 - rho * rho)
    frames = [n[:, 0]]
    for f in range(1, shape[1]):
        frames.append(keep * frames[-1] + fresh * n[:, f])
    return torch.stack(frames, dim=1)
