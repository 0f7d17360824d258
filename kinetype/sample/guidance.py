"""Classifier-free guidance (Ho & Salimans 2022) around the network, and the sampling entry point
(with mitigating-gradient guidance, :mod:`kinetype.sample.mitigate`, when ``mg`` > 0)."""

from __future__ import annotations

from typing import Callable

import torch

from kinetype.model.errors import ModelError
from kinetype.model.frames import Given
from kinetype.model.interpolation import shared_noise
from kinetype.model.noise import NoiseConfig, draw_noise
from kinetype.model.objective import predict_x0_eps
from kinetype.sample.mitigate import mitigated
from kinetype.sample.replacement import pinned, replaced, seam_smoothed, tie_noise, tied
from kinetype.sample.schedule import sample_times
from kinetype.sample.settings import MG_SCALE_DEFAULT, SamplingSettings
from kinetype.sample.solvers import SAMPLERS


@torch.no_grad()
def sample_latents(
    net,  # KineTyNet (eval mode)
    shape: tuple[int, int, int, int, int],  # (B, T, C, h, w)
    static: list[str],
    dynamic: list[str] | None = None,
    word: list[str] | None = None,
    glyph: torch.Tensor | None = None,  # (B, T, h, w) mask coverage at latent resolution, or None
    *,
    objective: str,
    sampler: str = SamplingSettings.sampler,
    steps: int = SamplingSettings.steps,
    guidance: float = SamplingSettings.guidance,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    denoise_fn: Callable | None = None,  # net.denoise or a compiled copy of it (Pipeline.compile)
    mg: float | None = None,  # mitigating-gradient scale (0 = off); None: MG_SCALE_DEFAULT
    noise: NoiseConfig | None = None,  # the prior the model was trained with; None: independent
    given: Given | None = None,  # frames the clip passes through (kinetype.model.frames), or None
    interpolate: bool = False,  # the interpolator's gaps (B, K, n*C, h, w) between the keyframes ``given``
    replace: bool = False,  # pin the ``given`` frames to their latents (kinetype.sample.replacement)
    tie: int = 0,  # the last ``tie`` frames tied to the first: a loop sampled past its end
    seam: float = 0.0,  # with ``tie``: the loop's seam smoothed with this scale (0 = off)
) -> torch.Tensor:
    """Latents (B, T, C, h, w) for the captions; the same seed gives the same latents.

    The unconditional branch blanks all three captions (as in training's caption drop) and keeps
    the glyph layout and the given frames, which are structural inputs rather than prompts. Everything the steps share
    (captions encoded, glyph layout, initial noise) goes to the device before the first step; a
    step copies nothing to the device and reads nothing back. ``mg`` > 0 adds mitigating-gradient
    guidance to every step (one backward pass through the network each). ``replace``: the given
    frames are pinned (any model; one trained with given frames also takes them as input planes).
    ``tie``: the last ``tie`` frames are the first again at every step (:func:`kinetype.sample.replacement.tied`),
    and ``seam`` smooths the step from the loop's last frame into its first (:func:`kinetype.sample.replacement.seam_smoothed`).
    """
    if sampler not in SAMPLERS:
        raise ModelError(f"unknown sampler {sampler!r}: choose from {', '.join(SAMPLERS)}")
    device = next(net.parameters()).device
    b = shape[0]
    guided = guidance != 1.0
    reps = 2 if guided else 1

    def tokens(caps):  # conditional rows first, then the blank rows; one fixed length for a compiled network
        return None if caps is None else net.tokenize(list(caps) + ([""] * b if guided else []),
                                                      fixed_length=denoise_fn is not None)

    ctx = net.encode(tokens(static), tokens(dynamic), tokens(word))
    network = net.interpolate if interpolate else denoise_fn or net.denoise
    g = None if glyph is None else glyph.to(device).repeat(reps, *[1] * (glyph.dim() - 1))
    frames = None if given is None else Given(given.latents.to(device).repeat(reps, 1, 1, 1, 1),
                                              given.flags.to(device).repeat(reps, 1))

    def denoise(x: torch.Tensor, t: float):
        tt = torch.full((b * reps,), t, device=device)
        out = network(x.repeat(reps, 1, 1, 1, 1), tt, ctx, g, None, frames).float()
        if guided:
            cond, uncond = out.chunk(2)
            out = uncond + guidance * (cond - uncond)
        return predict_x0_eps(x, out, tt[:b], objective)

    # The initial noise is drawn on the CPU so a seed gives the same clip on any device.
    gen = torch.Generator().manual_seed(int(seed))
    x = draw_noise(shape, gen, noise or NoiseConfig())
    if interpolate:  # one draw per gap, as the interpolator was trained (kinetype.model.interpolation)
        x = shared_noise(x, net.interpolator.cfg.inbetweens)
    x = tie_noise(x, tie)
    x = x.to(device)
    times = sample_times(steps)
    pin = Given(given.latents.to(device), given.flags.to(device)) if replace and given is not None else None
    # Pinned and tied inside MG (its frame differences see the given frames and the loop's closing
    # step) and after it (its moves of them undone).
    mg = MG_SCALE_DEFAULT if mg is None else mg
    inner = tied(replaced(denoise, pin, objective, times), tie)
    denoise = tied(replaced(mitigated(inner, mg, objective, times), pin, objective, times), tie)
    if tie:
        denoise = seam_smoothed(denoise, shape[1] - tie, seam, objective, times, pin)
    return pinned(SAMPLERS[sampler](denoise, x, times, objective, progress), pin)
