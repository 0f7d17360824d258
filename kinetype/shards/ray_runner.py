"""`kinetype render --ray [ADDRESS]`: one Ray task per shard.

Each task renders its shard's samples in order and writes the shard itself through the same
:class:`~kinetype.shards.writer.ShardWriter`, so the output (and resuming) is identical to a local
run. The output folder must be reachable from every Ray node (a shared file system).
"""

from __future__ import annotations

from typing import Callable

from kinetype.errors import KinetypeError
from kinetype.shards.storage import Storage
from kinetype.shards.worker import Job
from kinetype.shards.writer import ShardWriter, remove_temporaries


def _render_shard(job: Job, storage: Storage, shard: int) -> dict:
    remove_temporaries(storage, shard)
    writer = ShardWriter(storage, shard, job.shard_info(shard))
    try:
        for index in job.config.shard_range(shard):
            job.make_sample(index).write_to(writer)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def render_with_ray(job: Job, storage: Storage, shards: list[int], address: str | None, advance: Callable,
                    summary) -> None:
    try:
        import ray  # optional: only `--ray` needs it
    except ImportError:
        raise KinetypeError("--ray needs Ray: pip install 'ray[default]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address or None, ignore_reinit_error=True, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(_render_shard)
        job_ref = ray.put(job)
        pending = {task.remote(job_ref, storage, k): k for k in shards}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                shard = pending.pop(ref)
                stats = ray.get(ref)
                summary.shards_done.append(shard)
                advance(stats["samples"], stats["failed"])
    finally:
        if started_here:
            ray.shutdown()
