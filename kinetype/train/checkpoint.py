"""Checkpoints: safetensors for tensors, JSON for everything else; written atomically, last K kept.

    RUN/checkpoints/step_00001000/
        model.safetensors      the network's state (all ranks hold the same after DDP's all-reduce)
        ema.safetensors        EMA of the trainable parameters (float32)
        optimizer.safetensors  AdamW moments, flattened as "<param index>.<name>"
        rng.safetensors        per-rank torch CPU (and CUDA) generator states
        state.json             step, counters, optimiser hyper-parameters, per-rank data-stream positions,
                               per-rank python/numpy RNG states

A checkpoint is written through :func:`kinetype.fsutil.atomic_folder` (a hidden temporary folder,
fsynced, renamed when complete), so a killed run never leaves a half-written checkpoint where
``--resume`` would look.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from kinetype.fsutil import atomic_folder, remove_stale_temporaries_in
from kinetype.model.errors import TrainingError


def checkpoint_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def _checkpoints(run: Path) -> list[Path]:
    """The whole checkpoints, oldest first: folders named ``step_`` and digits (a temporary's name
    starts with a dot)."""
    return sorted(p for p in checkpoint_dir(run).glob("step_*") if p.is_dir() and p.name[5:].isdigit())


def latest_checkpoint(run: Path) -> Path | None:
    done = _checkpoints(run)
    return done[-1] if done else None


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors = {}
    scalars: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    for key, v in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's global RNG states: torch (CPU, CUDA) as tensors, python and numpy as JSON."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state()
    py = random.getstate()
    np_state = np.random.get_state()
    return tensors, {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))


def save_checkpoint(
    run: Path,
    step: int,
    *,
    model: dict[str, torch.Tensor],
    ema: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    rng: list[tuple[dict[str, torch.Tensor], dict[str, Any]]],  # one per rank
    state: dict[str, Any],
    keep: int,
) -> Path:
    final = checkpoint_dir(run) / f"step_{step:08d}"
    remove_stale_temporaries_in(checkpoint_dir(run))  # what a killed run left, whatever step it was writing
    written = final  # what an error names: the file being written, else the checkpoint
    try:
        with atomic_folder(final, overwrite=True) as tmp:
            opt_tensors, opt_meta = optimizer_tensors(optimizer)
            files = {"model.safetensors": model, "ema.safetensors": ema, "optimizer.safetensors": opt_tensors,
                     "rng.safetensors": {f"rank{r}.{k}": v for r, (ts, _) in enumerate(rng) for k, v in ts.items()}}
            for name, tensors in files.items():
                written = final / name
                save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / name)
            written = final / "state.json"
            full = {**state, "step": step, "optimizer": opt_meta, "rng": [meta for _, meta in rng]}
            (tmp / "state.json").write_text(json.dumps(full))
            written = final
    except Exception as e:  # a full disk: safetensors raises its own error type, json an OSError
        last = latest_checkpoint(run)
        kept = f"the last whole checkpoint, {last.name}, is kept" if last else "no earlier checkpoint"
        reason = e.strerror if isinstance(e, OSError) and e.strerror else " ".join(str(e).split())[:160]
        raise TrainingError(f"{written}: cannot write the checkpoint of step {step} ({reason}); {kept}") from None
    # Keep the last K.
    done = _checkpoints(run)
    for old in done[: max(0, len(done) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint's ``state.json`` alone (what a run needs to know before building its optimiser)."""
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as e:
        raise TrainingError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise TrainingError(f"{path / 'state.json'}: not a checkpoint state (a JSON object)")
    return state


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = json.loads((path / "state.json").read_text())
        out = {
            "model": load_file(path / "model.safetensors"),
            "ema": load_file(path / "ema.safetensors"),
            "optimizer": load_file(path / "optimizer.safetensors"),
            "rng": load_file(path / "rng.safetensors"),
            "state": state,
        }
    except Exception as e:  # one line for the user, whatever broke
        raise TrainingError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {e})") from None
    return out


def rank_rng(rng_tensors: dict[str, torch.Tensor], state: dict[str, Any], rank: int):
    tensors = {k.split(".", 1)[1]: v for k, v in rng_tensors.items() if k.startswith(f"rank{rank}.")}
    if not tensors:
        raise TrainingError(f"the checkpoint has no RNG state for rank {rank}: resume with the same number of processes")
    return tensors, state["rng"][rank]
