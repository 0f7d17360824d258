"""The streaming loader: render -> shards -> tensors, splitting over workers and ranks, corrupt data."""

from __future__ import annotations

import io
import itertools
import logging
import os
import tarfile

import av
import numpy as np
import pytest
import torch

from kinetype import data
from kinetype.data import ShardDataset, decode_video, make_loader
from kinetype.decode import ColourError, planes_to_rgb
from kinetype.shards import RenderConfig, render_dataset
from test_shards_helpers import TINY, copy_some_templates, encode_mp4, render_fake

N = 10  # samples in the shared dataset: 4 shards of 3, 3, 3, 1


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A dataset rendered by the real engine (a few templates, 64 px, 8 frames)."""
    tmp = tmp_path_factory.mktemp("data")
    config = RenderConfig(templates=copy_some_templates(tmp / "templates", count=2), n=N, shard_size=3, seed=1, **TINY)
    render_dataset(config, tmp / "ds", workers=1, progress=False)
    return tmp / "ds"


def keys_of(ds) -> list[str]:
    return [s["__key__"] for s in ds]


def test_round_trip_matches_the_render(dataset):
    samples = list(ShardDataset(dataset))
    assert keys_of(samples) == [f"s{i:09d}" for i in range(N)]
    s = samples[0]
    assert s["video"].shape == (8, 3, 64, 64) and s["video"].dtype == torch.float32
    assert -1.0 <= s["video"].min() and s["video"].max() <= 1.0
    assert s["mask"].shape == (8, 64, 64) and set(s["mask"].unique().tolist()) <= {0.0, 1.0}
    from kinetype.render import render_clip
    from kinetype.render.templates import get_template, load_templates

    template = get_template(load_templates(dataset.parent / "templates"), s["meta"]["template"])
    clip = render_clip(template, s["meta"]["word"], s["meta"]["seed"], **TINY)
    assert np.array_equal(s["instance"].numpy(), clip.instance_map)  # masks are lossless
    assert torch.equal(s["mask"], torch.from_numpy(clip.text_mask).float())
    frames = (s["video"].permute(0, 2, 3, 1) + 1) * 127.5
    assert (frames - torch.from_numpy(clip.frames).float()).abs().mean() < 6  # H.264 is lossy
    assert s["word"] == clip.captions.word and s["motion"] == clip.captions.motion_tag
    assert s["static"] == clip.captions.static and s["dynamic"] == clip.captions.dynamic


def test_yuv_conversion_agrees_with_libswscale():
    rng = np.random.default_rng(0)
    frames = np.clip(np.cumsum(rng.integers(-3, 4, (4, 64, 64, 3)), axis=2) + 128, 0, 255).astype(np.uint8)
    mp4 = encode_mp4(frames, 8)
    with av.open(io.BytesIO(mp4)) as c:
        ref = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.float32)
    ours = ((decode_video(mp4, range(4)).permute(0, 2, 3, 1) + 1) * 127.5).numpy()
    assert np.abs(ours - ref).mean() < 2 and np.abs(ours - ref).max() < 8


@pytest.mark.parametrize("dtype", ["uint8", "float16"])
def test_compact_video_dtypes_match_the_float_contract(dataset, dtype):
    floats = list(ShardDataset(dataset, num_frames=5, frame_stride=1))
    compact = list(ShardDataset(dataset, num_frames=5, frame_stride=1, dtype=dtype))
    assert keys_of(compact) == keys_of(floats)
    for f, c in zip(floats, compact):
        assert c["video"].dtype == getattr(torch, dtype) and c["video"].shape == f["video"].shape
        assert c["mask"].dtype == getattr(torch, dtype) and torch.equal(c["mask"].float(), f["mask"])
        assert torch.equal(c["instance"], f["instance"]) and c["word"] == f["word"] and c["meta"] == f["meta"]
        # uint8: what the trainer does on the GPU gives the float video back within 8-bit rounding.
        video = c["video"].float().div_(127.5).sub_(1) if dtype == "uint8" else c["video"].float()
        assert (video - f["video"]).abs().max() <= 0.7 / 127.5


def test_yuv420_planes_convert_to_the_float_contract(dataset):
    floats = list(ShardDataset(dataset, num_frames=5, frame_stride=1))
    planes = list(ShardDataset(dataset, num_frames=5, frame_stride=1, dtype="yuv420"))
    assert keys_of(planes) == keys_of(floats)
    for f, p in zip(floats, planes):
        assert p["video"].dtype == torch.uint8 and p["video"].shape == (5, 96, 64)  # (T, H*3/2, W)
        assert p["mask"].dtype == torch.uint8 and torch.equal(p["mask"].float(), f["mask"])
        assert torch.equal(p["instance"], f["instance"]) and p["word"] == f["word"] and p["meta"] == f["meta"]
        # The one conversion, as the trainer runs it on the GPU: the float32 video within float rounding.
        assert (planes_to_rgb(p["video"]) - f["video"]).abs().max() <= 1e-6


def test_yuv420_refuses_untagged_clips_instead_of_skipping_them(tmp_path):
    shards, _ = render_fake(tmp_path, n=2, shard_size=2)  # the helpers' encoder leaves colour untagged
    assert len(list(ShardDataset(shards, dtype="uint8"))) == 2
    with pytest.raises(ColourError, match="use dtype='uint8'"):
        next(iter(ShardDataset(shards, dtype="yuv420")))


def test_bad_dtype_is_refused_in_one_line(dataset):
    with pytest.raises(ValueError, match="^dtype must be one of 'float32', 'float16', 'uint8', 'yuv420', got 'float64'$"):
        ShardDataset(dataset, dtype="float64")


@pytest.mark.parametrize("dtype", ["float32", "yuv420"])
def test_frame_selection(dataset, dtype):
    s = next(iter(ShardDataset(dataset, num_frames=3, frame_stride=2, dtype=dtype)))
    full = next(iter(ShardDataset(dataset, dtype=dtype)))
    assert s["video"].shape[0] == 3 and torch.equal(s["video"], full["video"][[0, 2, 4]])
    assert torch.equal(s["instance"], full["instance"][[0, 2, 4]])
    starts = set()
    for seed in range(8):
        c = next(iter(ShardDataset(dataset, num_frames=2, random_crop=True, seed=seed, dtype=dtype)))
        fits = [t for t in range(7) if torch.equal(c["video"], full["video"][t : t + 2])
                and torch.equal(c["instance"], full["instance"][t : t + 2])]
        assert fits  # two consecutive frames of the clip, video and masks alike
        starts.add(fits[0])
    assert len(starts) > 1
    single = next(iter(ShardDataset(dataset, single_frame=True, dtype=dtype)))
    frame = (1, 3, 64, 64) if dtype == "float32" else (1, 96, 64)
    assert single["video"].shape == frame and single["mask"].shape == (1, 64, 64)
    assert any(torch.equal(single["video"][0], full["video"][t]) and torch.equal(single["instance"][0], full["instance"][t])
               for t in range(8))
    with pytest.raises(ValueError, match="needs 15 frames"):
        next(iter(ShardDataset(dataset, num_frames=8, frame_stride=2, dtype=dtype)))


def test_shards_can_be_given_as_folder_pattern_or_list(dataset):
    tars = sorted(str(p) for p in dataset.glob("shard-*.tar"))
    assert len(ShardDataset(dataset).urls) == 4
    assert ShardDataset(str(dataset / "shard-{000000..000003}.tar")).urls == tars
    assert ShardDataset(str(dataset / "shard-*.tar")).urls == tars
    assert ShardDataset(tars[:2]).urls == tars[:2]


def test_a_shards_stats_give_its_sample_count_and_a_fifo_in_their_place_is_not_read(dataset, tmp_path):
    assert data.expected_samples(str(dataset / "shard-000003.tar")) == 1
    (tmp_path / "shard-000000.tar").write_bytes((dataset / "shard-000000.tar").read_bytes())
    os.mkfifo(tmp_path / "shard-000000.stats.json")  # reading it would wait for a writer for ever
    assert data.expected_samples(str(tmp_path / "shard-000000.tar")) is None
    assert data.expected_samples(str(tmp_path / "shard-000009.tar")) is None  # copied without its stats


@pytest.mark.parametrize("world,workers", [(1, 2), (2, 1), (3, 2), (2, 3)])
def test_split_over_ranks_and_workers_without_duplicates(dataset, monkeypatch, world, workers):
    seen = []
    for rank in range(world):
        monkeypatch.setattr(data, "rank_world", lambda rank=rank: (rank, world))
        for worker in range(workers):
            info = type("Info", (), {"id": worker, "num_workers": workers})
            monkeypatch.setattr(data, "get_worker_info", lambda info=info: info)
            seen += keys_of(ShardDataset(dataset, shuffle_buffer=4, seed=1))
    assert sorted(seen) == [f"s{i:09d}" for i in range(N)]  # all, once; readers without shards just end


def test_loader_workers_and_collate(dataset):
    loader = make_loader(dataset, batch_size=4, num_workers=2, num_frames=2)
    batches = list(loader)
    keys = [k for b in batches for k in b["__key__"]]
    assert sorted(keys) == [f"s{i:09d}" for i in range(N)]
    b = batches[0]
    assert b["video"].shape[1:] == (2, 3, 64, 64) and b["mask"].shape[1:] == (2, 64, 64)
    assert isinstance(b["static"], list) and isinstance(b["meta"], list) and isinstance(b["meta"][0], dict)
    inline = {k: v for b in make_loader(dataset, batch_size=4, num_frames=2, dtype="uint8")
              for k, v in zip(b["__key__"], b["video"])}
    for b in make_loader(dataset, batch_size=4, num_workers=2, num_frames=2, dtype="uint8"):
        assert b["video"].dtype == torch.uint8  # batches stacked in workers' shared memory arrive intact
        assert all(torch.equal(v, inline[k]) for k, v in zip(b["__key__"], b["video"]))


def test_yuv420_batches_from_workers_convert_to_the_float_batches(dataset):
    floats = {k: v for b in make_loader(dataset, batch_size=4, num_frames=3) for k, v in zip(b["__key__"], b["video"])}
    keys = []
    for b in make_loader(dataset, batch_size=4, num_workers=2, num_frames=3, dtype="yuv420"):
        assert b["video"].dtype == torch.uint8 and b["video"].shape[1:] == (3, 96, 64)
        assert b["mask"].dtype == torch.uint8 and b["mask"].shape[1:] == (3, 64, 64)
        rgb = planes_to_rgb(b["video"])  # (B, T, 3, H, W), the whole batch at once
        assert all((v - floats[k]).abs().max() <= 1e-6 for k, v in zip(b["__key__"], rgb))
        keys += b["__key__"]
    assert sorted(keys) == sorted(floats)


def test_shuffle_and_resampled_mode(dataset):
    plain = keys_of(ShardDataset(dataset))
    shuffled = keys_of(ShardDataset(dataset, shuffle_buffer=5, seed=3))
    assert sorted(shuffled) == plain and shuffled != plain
    endless = list(itertools.islice(ShardDataset(dataset, resampled=True, seed=0), 3 * N))
    assert len(endless) == 3 * N  # resampled mode does not end


def _rewrite_tar(src, dst, change):
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as tout:
        for m in tin:
            payload = change(m.name, tin.extractfile(m).read())
            if payload is None:
                continue
            m.size = len(payload)
            tout.addfile(m, io.BytesIO(payload))


def test_corrupt_members_are_skipped_counted_and_logged(dataset, tmp_path, caplog):
    src = dataset / "shard-000000.tar"
    bad = tmp_path / "bad.tar"

    def change(name, payload):
        if name == "s000000000.mp4":
            return payload[:40] + b"\0" * 200  # a broken video
        if name == "s000000001.instance.u4x.zlib":
            return b"not zlib"
        if name == "s000000002.json":
            return None  # a missing member
        return payload

    _rewrite_tar(src, bad, change)
    ds = ShardDataset([str(bad), str(dataset / "shard-000001.tar")])
    with caplog.at_level(logging.WARNING, logger="kinetype.data"):
        keys = keys_of(ds)
    assert keys == ["s000000003", "s000000004", "s000000005"]
    assert ds.skipped == 3 and "skipped corrupt sample s000000000" in caplog.text


def test_truncated_tar_is_skipped_not_fatal(dataset, tmp_path):
    data_bytes = (dataset / "shard-000000.tar").read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data_bytes[: len(data_bytes) // 2 + 100])
    ds = ShardDataset([str(cut), str(dataset / "shard-000003.tar")])
    keys = keys_of(ds)
    assert "s000000009" in keys and len(keys) < 4 and ds.skipped >= 1
