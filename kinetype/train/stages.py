"""``kinetype train`` with no ``--stage``: the whole pipeline, autoencoder -> image -> video.

Each stage runs in its own folder under the root (``runs/kinetype/autoencoder`` ...) and starts
from the previous stage's export (``--init PREV/pipeline``), as the KineTy paper trains its two
stages. It resumes by itself: a stage whose pipeline is exported is skipped with one line, a stage
with checkpoints continues from the last one, so an interrupted run is continued by running the
same command again.

``--minutes M`` budgets the training steps of the whole pipeline, split over the stages by
:data:`BUDGET_SHARES` (with ``--stage``, all M go to that stage); each stage fixes its step count from
its share (kinetype.train.schedule.StepBudget), so its schedule ends when its time does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from kinetype.train.config import PIPELINE_STAGES, resolve
from kinetype.train.loop import train
from kinetype.train.setup import check_shards

PREVIOUS = {"autoencoder": None, "image": "autoencoder", "video": "image", "interpolation": "video"}
# Shares of a whole-pipeline time budget: the video stage learns motion and is the slowest per clip.
BUDGET_SHARES = {"autoencoder": 0.2, "image": 0.35, "video": 0.45}


def stage_folder(root: Path, stage: str) -> Path:
    return Path(root) / stage


def finished(run: Path) -> bool:
    """A stage is done once its pipeline is exported (the loop exports only at the end)."""
    return (run / "pipeline" / "model_index.json").is_file()


def previous_export(root: Path, stage: str) -> Path | None:
    """The previous stage's exported pipeline under ``root`` (None for the first stage)."""
    prev = PREVIOUS[stage]
    return None if prev is None else stage_folder(root, prev) / "pipeline"


def stage_overrides(stage: str, run: Path, *, init: Path | None, shards: str | None, seed: int | None,
                    max_steps: int | None, minutes: float | None = None) -> dict[str, Any]:
    """The flags of one stage as ``resolve`` overrides (``minutes``: this stage's budget)."""
    over: dict[str, Any] = {"stage": stage, "out": str(run), "seed": seed, "init": str(init) if init else None}
    if shards is not None:
        over["data"] = {"shards": str(shards)}
    optim = {k: v for k, v in (("max_steps", max_steps), ("max_minutes", minutes)) if v is not None}
    if optim:
        over["optim"] = optim
    return over


def train_all(
    *,
    preset: str,
    root: Path,
    shards: str | None,
    config: Path | None = None,
    max_steps: int | None = None,
    minutes: float | None = None,
    seed: int | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> Path | None:
    """Train (or finish) every stage under ``root``; returns the video stage's exported pipeline."""
    # Resolve every stage's config first, so a bad flag or config file fails before hours of work.
    cfgs = [resolve(preset, config, stage_overrides(s, stage_folder(root, s), init=previous_export(root, s),
                                                    shards=shards, seed=seed, max_steps=max_steps,
                                                    minutes=None if minutes is None else minutes * BUDGET_SHARES[s]))
            for s in PIPELINE_STAGES]
    check_shards(cfgs[0].data.shards)
    out = None
    for cfg in cfgs:
        run = Path(cfg.out)
        if finished(run) and not dry_run:
            echo(f"{cfg.stage}: done ({run / 'pipeline'}), skipped")
            out = run / "pipeline"
            continue
        length = (f"{cfg.optim.max_minutes:g} minutes of steps (at most {cfg.optim.max_steps})" if cfg.optim.max_minutes
                  else f"{cfg.optim.max_steps} steps")
        echo(f"{cfg.stage}: {length}, preset {cfg.preset}, in {run}")
        if dry_run and cfg.init and not finished(Path(cfg.init).parent):
            echo(f"(dry run: {cfg.init} does not exist yet; it is made by the {PREVIOUS[cfg.stage]} stage)")
            continue
        out = train(cfg, dry_run=dry_run, echo=echo)
    if out is not None:
        echo(f'model ready: kinetype generate HELLO --motion "bounce in" --model {out}')
    return out
