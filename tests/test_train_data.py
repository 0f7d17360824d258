"""The trainer's data stream: the uint8 loader option is normalised on the device like float32."""

from __future__ import annotations

import pytest
import torch

from kinetype.model.errors import TrainingError
from kinetype.train.config import DataConfig
from kinetype.train.data import DataStream, prepare
from test_shards_helpers import render_fake


def batches(shards, video_dtype, n=3):
    cfg = DataConfig(shards=str(shards), size_px=64, num_frames=4, batch_size=2, shuffle_buffer=4,
                     video_dtype=video_dtype)
    stream = DataStream(cfg, single_frame=False, seed=0, rank=0, world_size=1)
    return [next(stream) for _ in range(n)]


def test_uint8_and_float16_batches_prepare_to_the_float32_batches(tmp_path):
    shards, _ = render_fake(tmp_path, n=8, shard_size=4)
    reference = batches(shards, "float32")
    for video_dtype in ("uint8", "float16"):
        for raw, ref in zip(batches(shards, video_dtype), reference):
            assert raw["__key__"] == ref["__key__"] and raw["video"].dtype == getattr(torch, video_dtype)
            got, want = prepare(raw, 64, torch.device("cpu")), prepare(ref, 64, torch.device("cpu"))
            assert got["video"].dtype == torch.float32 and got["mask"].dtype == torch.float32
            assert (got["video"] - want["video"]).abs().max() <= 0.7 / 127.5
            assert torch.equal(got["mask"], want["mask"])
    # The float32 path is unchanged: prepare hands the loader's tensor through as it is.
    assert prepare(reference[0], 64, torch.device("cpu"))["video"] is reference[0]["video"]


def test_bad_video_dtype_names_the_setting(tmp_path):
    shards, _ = render_fake(tmp_path, n=2, shard_size=2)
    with pytest.raises(TrainingError, match="^data.video_dtype: dtype must be one of"):
        batches(shards, "int8", n=1)
