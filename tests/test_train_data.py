"""The trainer's data stream: every loader video type prepares on the device to the float32 batch."""

from __future__ import annotations

import pytest
import torch

from kinetype.model.errors import TrainingError
from kinetype.shards.run import default_encode_fn, render_dataset
from kinetype.train.config import DataConfig
from kinetype.train.data import DataStream, prepare
from test_shards_helpers import FAKE_TEMPLATES, fake_config, fake_render, render_fake


def batches(shards, video_dtype, n=3):
    cfg = DataConfig(shards=str(shards), size_px=64, num_frames=4, batch_size=2, shuffle_buffer=4,
                     video_dtype=video_dtype)
    stream = DataStream(cfg, single_frame=False, seed=0, rank=0, world_size=1)
    return [next(stream) for _ in range(n)]


def test_compact_batches_prepare_to_the_float32_batches(tmp_path):
    # Fake letters, encoded as kinetype encodes (BT.709 limited range, tagged: what yuv420 carries).
    shards = tmp_path / "ds"
    render_dataset(fake_config(tmp_path, n=8, shard_size=4), shards, workers=1, templates=FAKE_TEMPLATES,
                   render_fn=fake_render, encode_fn=default_encode_fn, progress=False)
    reference = batches(shards, "float32")
    cpu = torch.device("cpu")
    for video_dtype, tolerance in (("uint8", 0.7 / 127.5), ("float16", 0.7 / 127.5), ("yuv420", 1e-6)):
        for raw, ref in zip(batches(shards, video_dtype), reference):
            assert raw["__key__"] == ref["__key__"]
            assert raw["video"].dtype == getattr(torch, "uint8" if video_dtype == "yuv420" else video_dtype)
            got, want = prepare(raw, 64, cpu), prepare(ref, 64, cpu)
            assert got["video"].dtype == torch.float32 and got["mask"].dtype == torch.float32
            assert got["video"].shape == want["video"].shape == (2, 4, 3, 64, 64)
            assert (got["video"] - want["video"]).abs().max() <= tolerance
            assert torch.equal(got["mask"], want["mask"])
            # Resizing (shards larger than size_px) treats every type alike.
            small, small_ref = prepare(raw, 32, cpu), prepare(ref, 32, cpu)
            assert (small["video"] - small_ref["video"]).abs().max() <= tolerance
            assert torch.equal(small["mask"], small_ref["mask"])
    # The float32 path is unchanged: prepare hands the loader's tensor through as it is.
    assert prepare(reference[0], 64, cpu)["video"] is reference[0]["video"]


def test_bad_video_dtype_names_the_setting(tmp_path):
    shards, _ = render_fake(tmp_path, n=2, shard_size=2)
    with pytest.raises(TrainingError, match="^data.video_dtype: dtype must be one of 'float32', 'float16', 'uint8', 'yuv420', got 'int8'$"):
        batches(shards, "int8", n=1)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_draws_the_uninterrupted_batches_without_decoding_the_seen_ones(tmp_path, monkeypatch, num_workers):
    import json

    from kinetype.data import ShardDataset

    shards, _ = render_fake(tmp_path, n=12, shard_size=4)
    cfg = DataConfig(shards=str(shards), size_px=64, num_frames=2, batch_size=2, shuffle_buffer=6,
                     num_workers=num_workers)

    def stream():
        return DataStream(cfg, single_frame=False, seed=3, rank=0, world_size=1)

    straight = stream()
    want = [next(straight) for _ in range(9)]
    stopped = stream()
    for _ in range(5):  # an odd number: with 2 workers the next batch is the second worker's
        next(stopped)
    decoded = []
    real_decode = ShardDataset.decode
    monkeypatch.setattr(ShardDataset, "decode", lambda self, raw, rng: decoded.append(raw["__key__"]) or real_decode(self, raw, rng))
    resumed = stream()
    resumed.load_state_dict(json.loads(json.dumps(stopped.state_dict())))  # as a checkpoint's state.json holds it
    for w in want[5:]:
        got = next(resumed)
        assert got["__key__"] == w["__key__"] and torch.equal(got["video"], w["video"])  # the same crops too
    if num_workers == 0:  # (workers decode in their own processes, ahead of the loader)
        assert len(decoded) == 4 * 2  # the 4 batches drawn after resuming, none of the 5 x 2 skipped clips
