"""The run's metrics: ``metrics.jsonl`` (a line per step), TensorBoard scalars and a rich progress bar,
written by rank 0.

A step's values stay on the device until a logging step: reading one back (``.item()``, ``float(t)``)
would make the host wait for every queued kernel, so :meth:`Logger.flush` stacks the kept values of
all pending steps and reads them back at once, the one read-back of a logging interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kinetype.fsutil import atomic_write_bytes


def read_metrics(file: Path, up_to_step: int | None = None) -> tuple[list[str], int]:
    """The whole lines of ``metrics.jsonl`` (of steps <= ``up_to_step``), and how many lines were
    dropped as torn (a crash mid-write leaves at most the last one half-written)."""
    kept, torn = [], 0
    for line in file.read_bytes().decode("utf-8", errors="replace").splitlines(keepends=True):
        try:
            step = json.loads(line)["step"]
        except (json.JSONDecodeError, KeyError, TypeError):
            torn += 1
            continue
        if up_to_step is None or step <= up_to_step:
            kept.append(line if line.endswith("\n") else line + "\n")
    return kept, torn


def _count_lines(file: Path) -> int:
    with open(file, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


class Logger:
    def __init__(self, run: Path, *, enabled: bool, total_steps: int, start_step: int, echo=print):
        self.enabled = enabled
        self.tb = self.progress = None
        self.pending: list[tuple[int, dict[str, float | torch.Tensor]]] = []
        if not enabled:
            return
        self.path = metrics = run / "metrics.jsonl"
        if metrics.is_file():  # a resumed run redoes the steps after its checkpoint: drop their lines
            kept, torn = read_metrics(metrics, start_step)
            if torn:
                echo(f"{metrics}: dropped {torn} unreadable line(s) (a write cut short)")
            # Appended to as it stands when nothing is dropped; else replaced whole (a full disk
            # then fails the replacement, not the history).
            if torn or len(kept) != _count_lines(metrics):
                atomic_write_bytes(metrics, "".join(kept).encode())
        self.file = open(metrics, "a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"))
        except ImportError:  # tensorboard is in the train extra; without it only metrics.jsonl
            self.tb = None

        self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[info]}"), transient=False)
        self.task = self.progress.add_task("train", total=total_steps, completed=start_step, info="")
        self.progress.start()

    def log(self, step: int, values: dict[str, float | torch.Tensor]) -> None:
        """Keep one step's values; 0-d device tensors among them are read back at the next flush."""
        self.pending.append((step, values))

    def flush(self, total_steps: int | None = None) -> list[dict[str, float]]:
        """Read back and write the kept steps (one read-back for all); returns their rows. Every rank
        reads its rows back (the loop checks them alike); rank 0 writes them."""
        if not self.pending:
            return []
        on_device = [v.double() for _, row in self.pending for v in row.values() if torch.is_tensor(v)]
        read = iter(torch.stack(on_device).tolist() if on_device else [])  # the one sync
        rows = [{"step": step, **{k: next(read) if torch.is_tensor(v) else v for k, v in row.items()}}
                for step, row in self.pending]
        self.pending.clear()
        if not self.enabled:
            return rows
        try:  # whole lines: a write the disk cuts short leaves at most a torn last line, dropped on resume
            self.file.write("".join(json.dumps(row) + "\n" for row in rows))
            self.file.flush()
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(self.path)) from None
        if self.tb is not None:
            for row in rows:
                for k, v in row.items():
                    if k != "step":
                        self.tb.add_scalar(f"train/{k}", v, row["step"])
        last = rows[-1]
        info = f"loss {last['loss']:.4f}  lr {last['lr']:.2e}  {last['clips_per_s']:.1f} clips/s"
        self.progress.update(self.task, completed=last["step"], info=info,
                             **({"total": total_steps} if total_steps else {}))
        if self.tb is not None:
            self.tb.flush()
        return rows

    def close(self) -> list[dict[str, float]]:
        rows = self.flush()
        if self.enabled:
            self.progress.stop()
            self.file.close()
            if self.tb is not None:
                self.tb.close()
        return rows
