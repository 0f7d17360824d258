"""Rendered datasets as WebDataset shards: plan → render → write → verify / inspect / export.

``plan`` (what sample i is) · ``sample`` (one sample as tar members) · ``storage`` (where a dataset
lives) · ``layout`` (the folder's files, the config read back, the shard reader) · ``writer`` (a
shard's files) · ``worker`` (sample i rendered, a typed result) · ``run`` (worker pool, resume,
fingerprint, progress) · ``ray_runner`` · ``manifest`` (manifest and dataset card) · ``verify`` ·
``inspect`` · ``export``. The loader is :mod:`kinetype.data`. Nothing here imports torch.
"""

from kinetype.shards.plan import RenderConfig, SamplePlan, SampleSpec, WordSource, make_plan, sample_key
from kinetype.shards.run import render_dataset

__all__ = ["RenderConfig", "SamplePlan", "SampleSpec", "WordSource", "make_plan", "render_dataset", "sample_key"]
