"""The run's metrics: ``metrics.jsonl`` (a line per step), TensorBoard scalars and a rich progress bar,
written by rank 0.

A step's values stay on the device until a logging step: reading one back (``.item()``, ``float(t)``)
would make the host wait for every queued kernel, so :meth:`Logger.flush` stacks the kept values of
all pending steps and reads them back at once, the one read-back of a logging interval.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kinetype.model.errors import TrainingError


def _step(line: bytes) -> int | None:
    """The step a ``metrics.jsonl`` line records, or None for a line that is not a whole record."""
    try:
        step = json.loads(line.decode("utf-8"))["step"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, RecursionError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def resume_metrics(file: Path, up_to_step: int) -> tuple[int, int]:
    """Make ``metrics.jsonl`` end at ``up_to_step`` (the checkpoint a run continues from), appending
    only: the lines of the steps it redoes and a torn last line (a crash mid-write cuts at most the
    last write short) are cut off the end; nothing before them is ever rewritten. Returns how many
    lines were cut as redone and as torn. A line that is not a record anywhere else is damage this
    file cannot have got from a crash: one line naming it, and the file is left as it is."""
    data = file.read_bytes()
    lines = data.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    steps = [_step(line) for line in lines]
    keep, torn = len(lines), 0
    if keep and steps[-1] is None:
        keep, torn = keep - 1, 1
    while keep and steps[keep - 1] is not None and steps[keep - 1] > up_to_step:
        keep -= 1
    damaged = next((i for i in range(keep) if steps[i] is None), None)
    if damaged is not None:
        raise TrainingError(f"{file}: line {damaged + 1} is not a metrics record (the run's history is damaged "
                            "before its last line); repair or remove that line, or move the file away, to continue")
    redone = len(lines) - keep - torn
    if keep < len(lines):
        os.truncate(file, starts[keep])
    elif data and not data.endswith(b"\n"):  # a whole last record whose newline was cut off
        with open(file, "ab") as f:
            f.write(b"\n")
    return redone, torn


def _quiet_tensorboard_thread() -> None:
    """Keep TensorBoard's writer thread from printing a traceback when a write fails (a full disk):
    the thread keeps the exception and the writer raises it in the training loop at its next
    ``add_scalar``/``flush``, which reports it in one line; the thread's own print would be a second
    report, a traceback. Any other thread's exception is printed as before."""
    previous = threading.excepthook
    if getattr(previous, "kinetype_quiet_tensorboard", False):
        return

    def hook(args) -> None:
        kept = getattr(args.thread, "exception", None)
        if type(args.thread).__name__ == "_AsyncWriterThread" and kept is args.exc_value:
            return
        previous(args)

    hook.kinetype_quiet_tensorboard = True
    threading.excepthook = hook


class Logger:
    def __init__(self, run: Path, *, enabled: bool, total_steps: int, start_step: int, echo=print):
        self.enabled = enabled
        self.tb = self.progress = None
        self.pending: list[tuple[int, dict[str, float | torch.Tensor]]] = []
        if not enabled:
            return
        self.path = metrics = run / "metrics.jsonl"
        if metrics.exists() and not metrics.is_file():  # a folder or a FIFO (opening one would block)
            raise TrainingError(f"{metrics}: not a regular file (the run's metrics are appended to it)")
        if metrics.is_file():  # a resumed run redoes the steps after its checkpoint: cut their lines
            _, torn = resume_metrics(metrics, start_step)
            if torn:
                echo(f"{metrics}: dropped {torn} unreadable line(s) (a write cut short)")
        self.file = open(metrics, "a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            _quiet_tensorboard_thread()
            self.tb_dir = run / "tb"
            self.tb = SummaryWriter(str(self.tb_dir))
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
            with self._tensorboard():
                for row in rows:
                    for k, v in row.items():
                        if k != "step":
                            self.tb.add_scalar(f"train/{k}", v, row["step"])
        last = rows[-1]
        info = f"loss {last['loss']:.4f}  lr {last['lr']:.2e}  {last['clips_per_s']:.1f} clips/s"
        self.progress.update(self.task, completed=last["step"], info=info,
                             **({"total": total_steps} if total_steps else {}))
        if self.tb is not None:
            with self._tensorboard():
                self.tb.flush()
        return rows

    @contextlib.contextmanager
    def _tensorboard(self):
        """TensorBoard's errors (a full disk) as an OSError naming its folder, not a library's file."""
        try:
            yield
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(self.tb_dir)) from None

    def close(self) -> list[dict[str, float]]:
        rows = self.flush()
        if self.enabled:
            self.progress.stop()
            self.file.close()
            if self.tb is not None:
                with self._tensorboard():
                    self.tb.close()
        return rows
