"""`kinetype render` to shards: files, failures, resume, refusal of a changed config, splitting
over jobs, worker pools, Ray, and standard readers (webdataset, Hugging Face datasets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from kinetype.errors import KinetypeError
from kinetype.shards.run import render_dataset
from kinetype.shards.verify import verify_dataset
from test_shards_helpers import FAKE_TEMPLATES, FakeTemplate, encode_mp4, fake_config, fake_render, render_fake


# Byte-identity checks use 128 px: at 64 px x264's output varies from run to run (it reads
# uninitialised memory on tiny frames); from 128 px up it is stable.
BYTES_PX = 128


def tar_keys(folder: Path) -> list[str]:
    keys = []
    for tar in sorted(folder.glob("shard-*.tar")):
        with tarfile.open(tar) as t:
            keys += [m.name.split(".")[0] for m in t if m.name.endswith(".json")]
    return keys


def test_render_writes_shards_stats_manifest_and_card(tmp_path):
    out, summary = render_fake(tmp_path, n=10, shard_size=4)
    assert summary.rendered == 10 and summary.shards_done == [0, 1, 2] and summary.dataset_complete
    names = {p.name for p in out.iterdir()}
    for k in range(3):
        assert {f"shard-{k:06d}.tar", f"shard-{k:06d}.parquet", f"shard-{k:06d}.stats.json"} <= names
    assert {"manifest.parquet", "dataset_card.json", "README.md", "render_config.json"} <= names
    assert not [n for n in names if ".tmp-" in n]
    assert tar_keys(out) == [f"s{i:09d}" for i in range(10)]
    stats = json.loads((out / "shard-000002.stats.json").read_text())
    assert stats["samples"] == 2 and stats["failed"] == 0 and stats["first_index"] == 8
    card = json.loads((out / "dataset_card.json").read_text())
    assert card["samples"] == 10 and card["counts"]["template"] == {"fake_a": 5, "fake_b": 5}
    assert card["counts"]["font"] == {"Fake Sans Bold": 10} and card["bytes_per_sample"] > 0
    assert "shard-*.tar" in (out / "README.md").read_text()
    report = verify_dataset(out)
    assert report.exit_code == 0 and report.valid == 10


def test_same_command_twice_is_byte_identical_and_second_run_does_nothing(tmp_path, capsys):
    a, _ = render_fake(tmp_path, out=tmp_path / "a", n=6, shard_size=3, size=BYTES_PX)
    b, _ = render_fake(tmp_path, out=tmp_path / "b", n=6, shard_size=3, size=BYTES_PX)
    assert (a / "shard-000001.tar").read_bytes() == (b / "shard-000001.tar").read_bytes()
    before = (a / "shard-000000.tar").stat().st_mtime_ns
    _, summary = render_fake(tmp_path, out=a, n=6, shard_size=3, size=BYTES_PX)
    assert summary.nothing_to_do and summary.rendered == 0
    assert (a / "shard-000000.tar").stat().st_mtime_ns == before
    assert "nothing to do" in capsys.readouterr().err


def test_changed_config_is_refused(tmp_path):
    out, _ = render_fake(tmp_path, n=4, shard_size=2)
    with pytest.raises(KinetypeError, match=r"another configuration \(seed 0 -> 1\)"):
        render_fake(tmp_path, out=out, n=4, shard_size=2, seed=1)
    with pytest.raises(KinetypeError, match="templates"):
        render_fake(tmp_path, out=out, n=4, shard_size=2, templates=FAKE_TEMPLATES[:1])


def test_failures_are_retried_then_recorded(tmp_path):
    templates = [*FAKE_TEMPLATES, FakeTemplate("fail_always")]
    out, summary = render_fake(tmp_path, n=6, shard_size=3, templates=templates)
    assert summary.failed == 2 and summary.rendered == 4
    failures = [f for k in range(2) for f in json.loads((out / f"shard-{k:06d}.stats.json").read_text())["failures"]]
    assert len(failures) == 2
    assert all(f["template"] == "fail_always" and f["attempts"] == 3 and "always fails" in f["reason"] for f in failures)
    report = verify_dataset(out)
    assert report.exit_code == 0 and report.valid == 4 and report.recorded_failures == 2
    assert json.loads((out / "dataset_card.json").read_text())["failed"] == 2


def test_split_over_jobs_gives_the_same_dataset(tmp_path):
    whole, _ = render_fake(tmp_path, out=tmp_path / "whole", n=9, shard_size=2, size=BYTES_PX)
    split = tmp_path / "split"
    config = fake_config(tmp_path, n=9, shard_size=2, size=BYTES_PX)
    for index in (1, 0):  # any order
        s = render_dataset(config, split, workers=1, num_shards=2, shard_index=index, templates=FAKE_TEMPLATES,
                           render_fn=fake_render, encode_fn=encode_mp4, progress=False)
        assert s.shards_done == [k for k in range(5) if k % 2 == index]
    assert s.dataset_complete and (split / "manifest.parquet").exists()
    for k in range(5):
        name = f"shard-{k:06d}.tar"
        assert (whole / name).read_bytes() == (split / name).read_bytes()


def test_worker_pool_matches_inline(tmp_path):
    inline, _ = render_fake(tmp_path, out=tmp_path / "inline", n=12, shard_size=5, size=BYTES_PX)
    pooled, summary = render_fake(tmp_path, out=tmp_path / "pool", n=12, shard_size=5, workers=2, size=BYTES_PX)
    assert summary.rendered == 12
    for k in range(3):
        name = f"shard-{k:06d}.tar"
        assert (inline / name).read_bytes() == (pooled / name).read_bytes()


RENDER_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import test_shards_helpers as h
from kinetype.shards.run import render_dataset

def slow_render(*args, **kw):
    time.sleep(0.05)
    return h.fake_render(*args, **kw)

config = h.fake_config(__import__('pathlib').Path({tmp!r}), n=24, shard_size=4)
render_dataset(config, {out!r}, workers=1, templates=h.FAKE_TEMPLATES, render_fn=slow_render,
               encode_fn=h.encode_mp4, progress=False)
"""


def test_kill_9_then_resume_gives_exactly_n_unique_valid_samples(tmp_path):
    out = tmp_path / "ds"
    script = RENDER_SCRIPT.format(tests=str(Path(__file__).parent), tmp=str(tmp_path), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*.stats.json"))) < 2:
        time.sleep(0.02)
    time.sleep(0.1)  # now in the middle of a shard
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("*.stats.json")))
    assert 2 <= done < 6, "the render should have been killed mid-way"
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    _, summary = render_fake(tmp_path, out=out, n=24, shard_size=4)
    assert summary.shards_skipped == done and summary.rendered == 24 - 4 * done
    for name, mtime in kept.items():
        if (out / name.replace(".tar", ".stats.json")).exists() and int(name[6:12]) < done:
            assert (out / name).stat().st_mtime_ns == mtime  # complete shards are kept, not redone
    keys = tar_keys(out)
    assert len(keys) == len(set(keys)) == 24
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    assert verify_dataset(out).exit_code == 0


def test_standard_webdataset_reads_the_shards(tmp_path):
    import webdataset as wds

    out, _ = render_fake(tmp_path, n=5, shard_size=3)
    urls = [str(p) for p in sorted(out.glob("shard-*.tar"))]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode())
    assert [s["__key__"] for s in samples] == [f"s{i:09d}" for i in range(5)]
    s = samples[0]
    assert isinstance(s["json"], dict) and s["json"]["key"] == "s000000000"
    assert isinstance(s["static.txt"], str) and s["word.txt"] == s["json"]["captions"]["word"]
    assert s["mp4"][4:8] == b"ftyp" and isinstance(s["instance.u4x.zlib"], bytes)


def test_hugging_face_datasets_reads_the_shards(tmp_path):
    datasets = pytest.importorskip("datasets")

    out, _ = render_fake(tmp_path, n=5, shard_size=3)
    files = [str(p) for p in sorted(out.glob("shard-*.tar"))]
    ds = datasets.load_dataset("webdataset", data_files={"train": files}, split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert ds.num_rows == 5
    ds = ds.cast_column("mp4", datasets.Video(decode=False))
    row = ds[0]
    assert row["__key__"] == "s000000000" and row["json"]["key"] == "s000000000"
    assert row["motion.txt"] == "slide in" and row["mp4"]["bytes"][4:8] == b"ftyp"
    # The card's YAML header lets load_dataset(folder) find the tars by itself.
    by_folder = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache2"))
    assert by_folder.num_rows == 5


def test_ray_one_task_per_shard(tmp_path):
    ray = pytest.importorskip("ray")

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}})
    try:
        config = fake_config(tmp_path, n=5, shard_size=2, size=BYTES_PX)
        summary = render_dataset(config, tmp_path / "ray", ray=True, templates=FAKE_TEMPLATES,
                                 render_fn=fake_render, encode_fn=encode_mp4, progress=False)
    finally:
        ray.shutdown()
    assert summary.rendered == 5 and sorted(summary.shards_done) == [0, 1, 2] and summary.dataset_complete
    inline, _ = render_fake(tmp_path, out=tmp_path / "inline", n=5, shard_size=2, size=BYTES_PX)
    assert (inline / "shard-000001.tar").read_bytes() == (tmp_path / "ray" / "shard-000001.tar").read_bytes()


def test_workers_return_typed_results(tmp_path):
    from kinetype.shards.worker import FailedSample, Job, RenderedSample

    config = fake_config(tmp_path, n=6, shard_size=4, retries=1)
    job = Job(config, (*FAKE_TEMPLATES, FakeTemplate("fail_always")), fake_render, encode_mp4)
    results = [job.make_sample(i) for i in range(6)]
    made = [r for r in results if isinstance(r, RenderedSample)]
    failed = [r for r in results if isinstance(r, FailedSample)]
    assert len(made) == 4 and len(failed) == 2
    assert made[-1].row["shard"] == config.shard_of(made[-1].index) and made[-1].key == f"s{made[-1].index:09d}"
    assert {"mp4", "json"} <= set(made[0].members)
    assert all(f.attempts == 2 and f.template == "fail_always" and "always fails" in f.reason for f in failed)
    crashed = job.crashed([4, 5])
    assert [c.index for c in crashed] == [4, 5] and all(c.attempts == 3 and "died" in c.reason for c in crashed)
