"""What a render worker does: sample index -> rendered, encoded and packed sample (or a recorded
failure), the same in the main process, a pool process or a Ray task.

:class:`Job` is everything a worker needs (picklable: spawned processes and Ray tasks get a copy);
:meth:`Job.make_sample` returns a typed :data:`SampleResult` that writes itself into its shard's
:class:`~kinetype.shards.writer.ShardWriter`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence, Union

from kinetype.media import encode_mp4
from kinetype.shards.plan import RenderConfig, SamplePlan, SampleSpec, make_plan
from kinetype.shards.sample import encode_sample
from kinetype.shards.writer import ShardWriter

RenderFn = Callable[..., Any]  # (template, word, seed, size=, num_frames=, fps=) -> Clip
CRASHES = 3  # a chunk whose worker process died this many times is recorded as failed


def default_render_fn(template, word, seed, size, num_frames, fps):
    from kinetype.render import render_clip  # the engine (skia) loads in the workers only

    return render_clip(template, word, seed, size=size, num_frames=num_frames, fps=fps)


def default_encode_fn(frames, fps, crf):
    return encode_mp4(frames, fps, crf=crf)


# --- what a worker returns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedSample:
    """Sample ``index`` made: its tar members by extension and its manifest row."""

    index: int
    key: str
    members: dict[str, bytes]
    row: dict[str, Any]

    def write_to(self, writer: ShardWriter) -> None:
        writer.add(self.key, self.members, self.row)


@dataclass(frozen=True)
class FailedSample:
    """Sample ``index`` could not be made; recorded, with these fields, in its shard's stats."""

    index: int
    key: str
    template: str
    word: str
    seed: int  # the render seed
    attempts: int
    reason: str

    @classmethod
    def of(cls, spec: SampleSpec, attempts: int, reason: str) -> "FailedSample":
        return cls(spec.index, spec.key, spec.template_id, spec.word, spec.seed, attempts, reason)

    def write_to(self, writer: ShardWriter) -> None:
        writer.fail(asdict(self))


SampleResult = Union[RenderedSample, FailedSample]


# --- the job -------------------------------------------------------------------------------------------


@dataclass
class Job:
    config: RenderConfig
    templates: Sequence  # engine Template objects
    render_fn: RenderFn = default_render_fn
    encode_fn: Callable = default_encode_fn
    fingerprint: str = ""  # of the configuration (run.check_or_write_config); stamped on every shard
    _plan: SamplePlan | None = field(default=None, repr=False)
    _by_id: dict | None = field(default=None, repr=False)

    @property
    def plan(self) -> SamplePlan:
        if self._plan is None:
            self._plan = make_plan(self.config, [t.id for t in self.templates])
            self._by_id = {t.id: t for t in self.templates}
        return self._plan

    def __getstate__(self):
        return {**self.__dict__, "_plan": None, "_by_id": None}

    def make_sample(self, index: int) -> SampleResult:
        """Render + encode sample ``index``, retrying ``config.retries`` times."""
        spec = self.plan.spec(index)
        template = self._by_id[spec.template_id]
        cfg = self.config
        reason = ""
        for attempt in range(1, cfg.retries + 2):
            try:
                clip = self.render_fn(template, spec.word, spec.seed, size=cfg.size, num_frames=cfg.num_frames, fps=cfg.fps)
                mp4 = self.encode_fn(clip.frames, clip.fps, cfg.crf)
                members, row = encode_sample(clip, spec, template, mp4)
                row["shard"] = cfg.shard_of(index)
                return RenderedSample(index, spec.key, members, row)
            except Exception as e:  # noqa: BLE001 - any engine error is recorded, never fatal
                reason = f"{type(e).__name__}: {e}".strip()[:500]
        return FailedSample.of(spec, cfg.retries + 1, reason)

    def crashed(self, chunk: list[int]) -> list[SampleResult]:
        """The results of a chunk whose worker process died ``CRASHES`` times while rendering it."""
        return [FailedSample.of(self.plan.spec(i), CRASHES,
                                f"the worker process died while rendering this chunk ({CRASHES} times)")
                for i in chunk]

    def shard_info(self, shard: int) -> dict[str, Any]:
        """What the shard's stats record besides the counts: the fingerprint, its index range, who wrote it."""
        r = self.config.shard_range(shard)
        return {"fingerprint": self.fingerprint, "first_index": r.start, "end_index": r.stop,
                "expected": len(r), "host": os.uname().nodename, "pid": os.getpid()}


# --- pool processes ------------------------------------------------------------------------------------

_WORKER_JOB: Job | None = None


def init_worker(job: Job) -> None:
    """Pool initializer (:func:`kinetype.workers.process_pool` makes it die with the parent): keep
    the job for :func:`work_chunk`."""
    global _WORKER_JOB
    _WORKER_JOB = job


def work_chunk(indices: list[int]) -> list[SampleResult]:
    return [_WORKER_JOB.make_sample(i) for i in indices]
