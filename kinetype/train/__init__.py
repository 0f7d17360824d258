"""Training: configs and presets, the data stream, checkpoints, the one training loop, and the
three-stage run behind a plain ``kinetype train``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

DEFAULT_RUN_ROOT = Path("runs/kinetype")


def train_command(
    *,
    shards: str | None,
    stage: str | None,
    preset: str | None,
    out: Path | None,
    config: Path | None = None,
    max_steps: int | None = None,
    minutes: float | None = None,
    resume: bool | None = None,
    dry_run: bool = False,
    init: Path | None = None,
    autoencoder: Path | None = None,
    clip: Path | None = None,
    seed: int | None = None,
    echo: Callable[[str], None] = print,
) -> Path | None:
    """``kinetype train``: every stage (no ``stage``) or one; preset -> stage settings -> TOML -> flags."""
    # Imported here: every kinetype.train.X imports this package first, so the loop at the top would
    # load torch and the model (about 4.5 s of imports) for any of them, its config included.
    from kinetype.model.errors import TrainingError
    from kinetype.train.config import STAGES, default_preset, resolve
    from kinetype.train.loop import train
    from kinetype.train.stages import finished, previous_export, stage_folder, stage_overrides, train_all

    preset = preset or default_preset()
    root = Path(out) if out is not None else DEFAULT_RUN_ROOT
    if stage is None:
        for flag, value in (("--init", init), ("--autoencoder", autoencoder), ("--clip", clip), ("--resume", resume)):
            if value:
                raise TrainingError(f"{flag} applies to one stage: add --stage (autoencoder, image, video or interpolation)")
        return train_all(preset=preset, root=root, shards=shards, config=config, max_steps=max_steps, minutes=minutes,
                         seed=seed, dry_run=dry_run, echo=echo)
    if stage not in STAGES:
        raise TrainingError(f"--stage {stage!r}: choose from {', '.join(STAGES)}")
    # One stage: --out is its run folder (default runs/kinetype/STAGE); without --init or --autoencoder it
    # starts from the previous stage's export under the default root, once that exists.
    run = Path(out) if out is not None else stage_folder(DEFAULT_RUN_ROOT, stage)
    if init is None and autoencoder is None:
        prev = previous_export(DEFAULT_RUN_ROOT, stage)
        init = prev if prev is not None and finished(prev.parent) else None
    overrides = stage_overrides(stage, run, init=init, shards=shards, seed=seed, max_steps=max_steps, minutes=minutes)
    model: dict = {}
    if autoencoder is not None:
        model["autoencoder"] = {"path": str(autoencoder)}
    if clip is not None:
        model["text"] = {"kind": "clip", "clip_path": str(clip)}
    if model:
        overrides["model"] = model
    cfg = resolve(preset, config, overrides)
    return train(cfg, resume=resume, dry_run=dry_run, echo=echo)
