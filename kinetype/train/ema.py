"""Power-function EMA of the trainable parameters (float32 shadow copies); the decay of update t is
:func:`kinetype.train.schedule.power_ema_beta`, a function of t alone, so it fits any run length."""

from __future__ import annotations

import torch
from torch import nn

from kinetype.train.schedule import power_ema_beta, power_ema_exponent


class EMA:
    def __init__(self, model: nn.Module, std: float):
        self.gamma = power_ema_exponent(std)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.shadow = {n: p.detach().float().clone() for n, p in named}
        # The lists the update runs over, built once (detached views of the live float32 parameters):
        # one fused kernel per update, no Python per parameter.
        if any(p.dtype != torch.float32 for _, p in named):
            raise ValueError("the EMA averages float32 parameters (mixed precision keeps them float32)")
        self._params = [p.detach() for _, p in named]
        self._shadows = [self.shadow[n] for n, _ in named]

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After optimiser update ``step`` (1, 2, ...) of the parameters the EMA was built on."""
        torch._foreach_lerp_(self._shadows, self._params, 1.0 - power_ema_beta(step, self.gamma))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for n, v in state.items():
            self.shadow[n].copy_(v)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged weights into ``model`` (a copy of the trained one)."""
        for n, p in model.named_parameters():
            if n in self.shadow:
                p.copy_(self.shadow[n].to(p.dtype))
