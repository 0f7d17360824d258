"""What makes the host wait for the device, counted in a ``TorchFunctionMode`` (tests only).

- read-backs: a tensor's value brought to Python (``item``, ``tolist``, ``bool``, ``float``, ``int``,
  ``numpy``, ``cpu``): the host waits for every queued kernel;
- blocking copies: ``to(device)`` of a tensor onto another device without ``non_blocking=True``.

On the CPU nothing is queued, so a test counts the calls a CUDA run would wait on; on the meta device
(shapes only) a read-back cannot even happen: it raises.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__float__, torch.Tensor.__int__,
         torch.Tensor.__index__, torch.Tensor.numpy, torch.Tensor.cpu}


class HostSyncs(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.events: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in READS:
            self.events.append(f"read-back: {func.__name__}")
        elif func is torch.Tensor.to and args and isinstance(args[0], torch.Tensor):
            target = kwargs.get("device", next((a for a in args[1:] if isinstance(a, (str, torch.device))), None))
            if target is not None and torch.device(target).type != args[0].device.type and not kwargs.get("non_blocking"):
                self.events.append(f"blocking copy: {args[0].device.type} -> {torch.device(target).type}")
        return func(*args, **kwargs)
