"""Training: configs and presets, the data stream, checkpoints, and the one training loop."""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def train_command(
    *,
    shards: str | None,
    stage: str,
    preset: str,
    out: Path,
    config: Path | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    dry_run: bool = False,
    init: Path | None = None,
    autoencoder: Path | None = None,
    clip: Path | None = None,
    seed: int | None = None,
    echo: Callable[[str], None] = print,
) -> Path | None:
    """``kinetype train``: preset -> TOML -> flags, then :func:`kinetype.train.loop.train`."""
    from kinetype.train.config import resolve
    from kinetype.train.loop import train

    overrides: dict = {"stage": stage, "out": str(out), "seed": seed, "init": str(init) if init else None}
    if shards is not None:
        overrides["data"] = {"shards": str(shards)}
    if max_steps is not None:
        overrides["optim"] = {"max_steps": max_steps}
    model: dict = {}
    if autoencoder is not None:
        model["autoencoder"] = {"path": str(autoencoder)}
    if clip is not None:
        model["text"] = {"kind": "clip", "clip_path": str(clip)}
    if model:
        overrides["model"] = model
    cfg = resolve(preset, config, overrides)
    return train(cfg, resume=resume, dry_run=dry_run, echo=echo)
