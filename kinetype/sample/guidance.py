"""Classifier-free guidance (Ho & Salimans 2022) around the network, and the sampling entry point."""

from __future__ import annotations

from typing import Callable

import torch

from kinetype.model.errors import ModelError
from kinetype.model.objective import predict_x0_eps
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
    sampler: str = "dpm++",
    steps: int = 25,
    guidance: float = 3.0,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Latents (B, T, C, h, w) for the captions; the same seed gives the same latents.

    The unconditional branch blanks all three captions (as in training's caption drop) and keeps
    the glyph layout, which is a structural input rather than a prompt.
    """
    if sampler not in SAMPLERS:
        raise ModelError(f"unknown sampler {sampler!r}: choose from {', '.join(SAMPLERS)}")
    device = next(net.parameters()).device
    b = shape[0]
    guided = guidance != 1.0
    reps = 2 if guided else 1

    def ctx(caps):  # conditional rows first, then the blank rows, encoded in one pass
        if caps is None:
            return None
        emb, mask = net.encode(list(caps) + ([""] * b if guided else []))
        return emb, mask

    s_ctx, d_ctx, w_ctx = ctx(static), ctx(dynamic), ctx(word)
    g = None if glyph is None else glyph.to(device).repeat(reps, 1, 1, 1)

    def denoise(x: torch.Tensor, t: torch.Tensor):
        tt = t.to(device).float().expand(b * reps)
        out = net.denoise(x.repeat(reps, 1, 1, 1, 1), tt, s_ctx, d_ctx, w_ctx, g).float()
        if guided:
            cond, uncond = out.chunk(2)
            out = uncond + guidance * (cond - uncond)
        return predict_x0_eps(x, out, tt[:b], objective)

    # The initial noise is drawn on the CPU so a seed gives the same clip on any device.
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(shape, generator=gen).to(device)
    times = torch.linspace(1.0, 0.0, steps + 1)
    return SAMPLERS[sampler](denoise, x, times, objective, progress)
