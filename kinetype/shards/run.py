"""`kinetype render`: render a dataset into shards — parallel, resumable, splittable across machines.

The run:
1. loads the templates, builds the sample plan and the configuration fingerprint;
2. refuses an output folder that holds a dataset of another configuration (``render_config.json``);
3. picks this job's shards (``shard % num_shards == shard_index``) that have no stats marker yet;
4. renders their samples (:mod:`kinetype.shards.worker`) in worker processes (or Ray tasks, one
   per shard) and writes each shard atomically (:mod:`kinetype.shards.writer`);
5. when every shard of the dataset is complete, writes the manifest and the dataset card.

Killing a run at any moment loses only the shards in progress; the same command resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import kinetype
from kinetype.errors import KinetypeError, whole
from kinetype.fsutil import check_output_dir
from kinetype.shards.layout import (CONFIG_FILE, MANIFEST, RenderRecord, read_render_record, read_stats, tar_name,
                                    write_render_record)
from kinetype.shards.manifest import write_manifest_and_card
from kinetype.shards.plan import FORMAT_VERSION, MAX_N, RenderConfig, templates_fingerprint
from kinetype.shards.ray_runner import render_with_ray
from kinetype.shards.storage import Storage
from kinetype.shards.worker import (CRASHES, FailedSample, Job, RenderFn, SampleResult, default_encode_fn,
                                    default_render_fn, init_worker, work_chunk)
from kinetype.shards.writer import ShardWriter, remove_temporaries
from kinetype.workers import check_workers, process_pool, stop_pool

CHUNK_SAMPLES = 8  # samples per worker task: small enough for a smooth progress bar


def load_engine_templates(folder: Path) -> list:
    from kinetype.render.templates import load_templates  # the engine's templates: loaded only when rendering

    return list(load_templates(Path(folder)))


# --- options ---------------------------------------------------------------------------------------


def check_job_args(workers: int | None, num_shards: int, shard_index: int) -> None:
    """The execution options of `kinetype render`, each error naming its option."""
    check_workers(workers)
    whole("--num-shards", num_shards, 1, MAX_N)  # jobs: past one per clip, a typo
    if not 0 <= shard_index < num_shards:
        raise KinetypeError(f"--shard-index must be 0 to {num_shards - 1} (--num-shards {num_shards}), got {shard_index}")


# --- configuration fingerprint -------------------------------------------------------------------


def describe_config(job: Job) -> dict[str, Any]:
    """What decides the content of the dataset (paths excluded: only what is in them counts)."""
    cfg = job.config.as_json()
    content = {k: v for k, v in cfg.items() if k not in ("templates", "words", "retries")}
    return {
        **content,
        "words": job.plan.words.fingerprint(),
        "templates": templates_fingerprint(job.templates),
        "num_templates": len(job.templates),
        "format_version": FORMAT_VERSION,
        "kinetype_version": kinetype.__version__,
    }


def fingerprint_of(described: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def check_or_write_config(storage: Storage, job: Job, command: str) -> RenderRecord:
    """Sets ``job.fingerprint``; refuses a folder rendered with another configuration."""
    described = describe_config(job)
    job.fingerprint = fingerprint_of(described)
    if storage.exists(CONFIG_FILE):
        try:
            old = read_render_record(storage)
        except (OSError, KinetypeError):
            raise KinetypeError(f"{storage.path(CONFIG_FILE)} is unreadable: remove it or use another --out") from None
        if old.fingerprint != job.fingerprint:
            changed = [f"{k} {old.content.get(k)!r} -> {v!r}" for k, v in described.items() if old.content.get(k) != v]
            raise KinetypeError(
                f"{storage.path('')} holds a dataset rendered with another configuration "
                f"({'; '.join(changed) or 'fingerprint differs'}): use a new --out folder, or the original options"
            )
        return old
    record = RenderRecord(job.config, job.fingerprint, described, tuple(sorted(t.id for t in job.templates)),
                          command, time.time())
    write_render_record(storage, record)
    return record


# --- the run -------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    out: str
    rendered: int = 0  # samples written by this run
    failed: int = 0
    shards_done: list[int] = field(default_factory=list)
    shards_skipped: int = 0  # already complete before this run
    seconds: float = 0.0
    dataset_complete: bool = False
    nothing_to_do: bool = False

    @property
    def clips_per_s(self) -> float:
        return (self.rendered + self.failed) / self.seconds if self.seconds > 0 else 0.0


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(), TextColumn("clips"),
        TextColumn("{task.fields[rate]:.1f} clips/s"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), TextColumn("failed: {task.fields[failed]}"),
        console=console, disable=not enabled, transient=False,
    )


def render_dataset(
    config: RenderConfig,
    out: str | Path,
    *,
    workers: int | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    ray: bool = False,
    ray_address: str | None = None,
    templates: Sequence | None = None,
    render_fn: RenderFn | None = None,
    encode_fn: Callable | None = None,
    command: str | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> RunSummary:
    """Render (or resume) the dataset of ``config`` into ``out``. See the module docstring."""
    console = console or Console(stderr=True)
    check_job_args(workers, num_shards, shard_index)
    workers = max(1, workers or os.cpu_count() or 1)
    command = command or shlex.join(["kinetype", *sys.argv[1:]])
    check_output_dir(out, "--out")  # an unwritable folder: refused before any clip is rendered
    storage = Storage(out)
    if templates is None:
        templates = load_engine_templates(config.templates)
    job = Job(config, tuple(sorted(templates, key=lambda t: t.id)), render_fn or default_render_fn,
              encode_fn or default_encode_fn)
    check_or_write_config(storage, job, command)

    mine = [k for k in range(config.num_shards) if k % num_shards == shard_index]
    pending = [k for k in mine if not _complete(storage, config, k, job.fingerprint)]
    summary = RunSummary(out=str(out), shards_skipped=len(mine) - len(pending))
    if not pending:
        summary.nothing_to_do = True
        console.print(f"nothing to do: all {len(mine)} shard(s) of this job in {out} are already complete")
    else:
        for k in pending:
            remove_temporaries(storage, k)
        todo = sum(len(config.shard_range(k)) for k in pending)
        console.print(f"rendering {todo} clips into {len(pending)} shard(s) of {out} "
                      f"({summary.shards_skipped} already complete), {'Ray' if ray else f'{workers} worker(s)'}")
        started = time.time()
        with _progress(console, progress) as bar:
            task = bar.add_task("render", total=todo, rate=0.0, failed=0)

            def advance(done: int, failed: int) -> None:
                summary.rendered += done
                summary.failed += failed
                elapsed = max(time.time() - started, 1e-6)
                bar.update(task, advance=done + failed, failed=summary.failed,
                           rate=(summary.rendered + summary.failed) / elapsed)

            if ray:
                render_with_ray(job, storage, pending, ray_address, advance, summary)
            elif workers == 1:
                _render_inline(job, storage, pending, advance, summary)
            else:
                _render_pool(job, storage, pending, workers, advance, summary)
        summary.seconds = time.time() - started
        console.print(f"rendered {summary.rendered} clips ({summary.failed} failed) in {summary.seconds:.1f} s: "
                      f"{summary.clips_per_s:.1f} clips/s")

    if all(_complete(storage, config, k, job.fingerprint) for k in range(config.num_shards)):
        summary.dataset_complete = True
        if summary.shards_done or not storage.exists(MANIFEST):
            write_manifest_and_card(storage, command=command)
            console.print(f"dataset complete: {config.n} samples in {config.num_shards} shard(s); "
                          f"manifest.parquet and README.md written in {out}")
    else:
        left = sum(1 for k in range(config.num_shards) if not _complete(storage, config, k, job.fingerprint))
        console.print(f"{left} shard(s) of the dataset are not complete yet (other jobs, or run again)")
    return summary


def _complete(storage: Storage, config: RenderConfig, shard: int, fingerprint: str) -> bool:
    stats = read_stats(storage, shard, len(config.shard_range(shard)))
    return stats is not None and stats.get("fingerprint") == fingerprint and storage.exists(tar_name(shard))


class _ShardSink:
    """Receives sample results in index order and writes them shard after shard."""

    def __init__(self, job: Job, storage: Storage, advance, summary: RunSummary):
        self.job, self.storage, self.advance, self.summary = job, storage, advance, summary
        self.writer: ShardWriter | None = None

    def put(self, result: SampleResult) -> None:
        config = self.job.config
        shard = config.shard_of(result.index)
        if self.writer is None:
            self.writer = ShardWriter(self.storage, shard, self.job.shard_info(shard))
        assert self.writer.shard == shard, "results must arrive shard by shard"
        result.write_to(self.writer)
        failed = isinstance(result, FailedSample)
        self.advance(int(not failed), int(failed))
        if result.index == config.shard_range(shard).stop - 1:
            self.writer.close()
            self.writer = None
            self.summary.shards_done.append(shard)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


def _chunks(job: Job, shards: list[int]) -> list[list[int]]:
    out = []
    for k in shards:
        r = job.config.shard_range(k)
        out += [list(r[i:i + CHUNK_SAMPLES]) for i in range(0, len(r), CHUNK_SAMPLES)]
    return out


def _render_inline(job: Job, storage: Storage, shards: list[int], advance, summary: RunSummary) -> None:
    sink = _ShardSink(job, storage, advance, summary)
    try:
        for chunk in _chunks(job, shards):
            for i in chunk:
                sink.put(job.make_sample(i))
    except BaseException:
        sink.abort()
        raise


def _render_pool(job: Job, storage: Storage, shards: list[int], workers: int, advance,
                 summary: RunSummary) -> None:
    """Chunks of samples go to a pool of spawned processes; results come back in order, so the
    main process writes shards one after the other. A worker that dies (a crash in native code)
    breaks the pool: it is rebuilt and the chunks in flight are retried; a chunk caught in three
    crashes is recorded as failed."""
    todo = deque((chunk, 0) for chunk in _chunks(job, shards))
    window = workers * 4
    sink = _ShardSink(job, storage, advance, summary)
    pool = process_pool(workers, init_worker, (job,), what="render")
    inflight: deque = deque()
    try:
        while todo or inflight:
            while todo and len(inflight) < window:
                chunk, crashes = todo.popleft()
                work = job.crashed(chunk) if crashes >= CRASHES else pool.submit(work_chunk, chunk)
                inflight.append((chunk, crashes, work))
            chunk, crashes, work = inflight[0]
            try:
                results = work if isinstance(work, list) else work.result()
            except BrokenProcessPool:
                stop_pool(pool)
                pool = process_pool(workers, init_worker, (job,), what="render")
                todo.extendleft(reversed([(c, n + 1) for c, n, _ in inflight]))
                inflight.clear()
                continue
            inflight.popleft()
            for result in results:
                sink.put(result)
    except BaseException:
        sink.abort()
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)

