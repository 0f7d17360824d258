"""Process-group set-up for ``torchrun``: NCCL on CUDA, gloo on the CPU; a single process needs none."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
    return Dist(rank, world, local, device)


def all_true(flag: bool, d: Dist) -> bool:
    """True only if ``flag`` holds on every rank (one all-reduce)."""
    if not d.enabled:
        return flag
    t = torch.tensor([0.0 if flag else 1.0], device=d.device)
    dist.all_reduce(t)
    return t.item() == 0.0


def any_true(flag: bool, d: Dist) -> bool:
    """True if ``flag`` holds on any rank (one all-reduce)."""
    return not all_true(not flag, d)


def broadcast_int(value: int, d: Dist) -> int:
    """Rank 0's ``value`` on every rank."""
    if not d.enabled:
        return value
    t = torch.tensor([value], dtype=torch.long, device=d.device)
    dist.broadcast(t, 0)
    return int(t.item())


def gather_objects(obj, d: Dist) -> list:
    if not d.enabled:
        return [obj]
    out = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def shutdown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()
