"""The dataset folder (kinetype.shards.layout): file names, the typed render_config.json round trip
and its one-line errors, and ShardReader reading back what ShardWriter wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kinetype.errors import KinetypeError
from kinetype.shards.layout import (CARD_JSON, CONFIG_FILE, MANIFEST, RenderRecord, ShardReader, ShardReadError, parquet_name,
                                    read_render_record, read_stats, shard_table, stats_name, tar_name, tar_problems,
                                    write_render_record)
from kinetype.shards.plan import RenderConfig
from kinetype.shards.storage import Storage
from kinetype.shards.writer import ShardWriter

SAMPLES = {
    "s000000004": {"mp4": b"\x00video" * 100, "instance.u4x.zlib": b"masks", "word.txt": b"H^|i", "json": b"{}"},
    "s000000005": {"mp4": b"", "instance.u4x.zlib": b"m" * 1000, "word.txt": "Ü".encode(), "json": b"[1]"},
    "s000000007": {"mp4": b"x" * 513, "instance.u4x.zlib": b"", "word.txt": b"a", "json": b"{\"a\": 1}"},
}


def write_shard(root: Path, shard: int = 1) -> dict:
    writer = ShardWriter(Storage(root), shard, {"fingerprint": "f"})
    for key, members in SAMPLES.items():
        writer.add(key, members, {"key": key, "bytes": sum(map(len, members.values()))})
    writer.fail({"index": 6, "key": "s000000006", "reason": "RuntimeError: no"})
    return writer.close()


def test_file_names():
    assert (tar_name(3), parquet_name(3), stats_name(3)) == ("shard-000003.tar", "shard-000003.parquet",
                                                             "shard-000003.stats.json")


def test_reader_reads_back_what_the_writer_wrote(tmp_path):
    stats = write_shard(tmp_path)
    storage = Storage(tmp_path)
    reader = ShardReader(storage, 1)
    assert list(reader) == list(SAMPLES.items())  # order, keys, extensions and bytes
    assert reader.url == str(tmp_path / "shard-000001.tar") and len(reader.data) == stats["tar_bytes"]
    assert read_stats(storage, 1, 4)["failures"][0]["key"] == "s000000006" and read_stats(storage, 0, 4) is None
    assert shard_table(storage, 1).column("key").to_pylist() == list(SAMPLES)


@pytest.mark.parametrize("text,said", [
    ("[1, 2]", "expected a JSON object, got list"),
    ("null", "expected a JSON object, got NoneType"),
    ('{"samples": 3, "failed": 1, "failures": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"samples": NaN}', "samples is nan"),
    ('{"samples": 10000000000, "failed": 0, "failures": []}', "10000000000 samples and 0 failed, where the plan gives the shard 4"),
    ('{"samples": 3, "failed": 2, "failures": [{"key": "s000000006"}]}', "5"),
    ('{"samples": 2, "failed": 2, "failures": [{"key": "s000000006"}]}', "failed is 2, but 1 failures are listed"),
    ('{"samples": "3"}', "samples must be a count"),
])
def test_a_stats_file_that_is_there_but_not_what_the_writer_writes_is_damage_naming_it(tmp_path, text, said):
    """Not "not complete" (None): the shard would be rendered again over its tar, or its counts believed."""
    write_shard(tmp_path)
    (tmp_path / stats_name(1)).write_text(text)
    with pytest.raises(KinetypeError) as e:
        read_stats(Storage(tmp_path), 1, 4)
    assert str(e.value).startswith(f"{tmp_path / stats_name(1)} is damaged: ") and said in str(e.value)
    assert len(str(e.value).splitlines()) == 1


def test_a_tar_changed_after_its_stats_were_written_is_found_by_its_size(tmp_path):
    stats = write_shard(tmp_path)
    storage = Storage(tmp_path)
    assert tar_problems(storage, [None, stats]) == []
    with open(tmp_path / tar_name(1), "ab") as f:
        f.write(b"\0" * 512)  # a sample appended
    assert tar_problems(storage, [None, stats]) == [
        f"{tar_name(1)} is {stats['tar_bytes'] + 512} bytes, its stats say {stats['tar_bytes']} (changed after writing)"]
    (tmp_path / tar_name(1)).unlink()
    assert tar_problems(storage, [None, stats]) == [f"{tar_name(1)} is missing"]


def test_damaged_tar_is_one_error_after_the_whole_samples(tmp_path):
    write_shard(tmp_path)
    tar = tmp_path / "shard-000001.tar"
    raw = tar.read_bytes()
    cut = raw.index(b"x" * 513) + 100  # inside the last sample's first member
    tar.write_bytes(raw[:cut])
    got = []
    with pytest.raises(ShardReadError) as caught:
        for key, members in ShardReader(Storage(tmp_path), 1):
            got.append(key)
    assert got == ["s000000004", "s000000005"]
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and str(tar) in message and "damaged" in message
    tar.write_bytes(raw[:raw.index(b"masks") + 1])  # inside a member of the first sample
    with pytest.raises(ShardReadError) as caught:
        list(ShardReader(Storage(tmp_path), 1))
    assert caught.value.partial == ("s000000004", {"mp4": SAMPLES["s000000004"]["mp4"]})
    tar.write_bytes(b"")
    with pytest.raises(ShardReadError, match="shard-000001.tar: damaged"):
        list(ShardReader(Storage(tmp_path), 1))
    tar.unlink()
    with pytest.raises(FileNotFoundError):
        list(ShardReader(Storage(tmp_path), 1))


def record(**config) -> RenderRecord:
    cfg = RenderConfig(templates=Path("templates"), n=10, shard_size=4, size=64, num_frames=8, words=Path("w.txt"),
                       **config)
    return RenderRecord(cfg, "abc123", {"seed": cfg.seed, "num_templates": 2}, ("a", "b"), "kinetype render", 12.5)


def test_render_record_round_trip(tmp_path):
    storage = Storage(tmp_path)
    rec = record(seed=3, english_share=0.25)
    write_render_record(storage, rec)
    back = read_render_record(storage)
    assert back == rec and isinstance(back.config, RenderConfig)
    assert back.config.num_shards == 3 and list(back.config.shard_range(2)) == [8, 9] and back.config.shard_of(7) == 1
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["config"] == rec.config.as_json()


def test_older_render_config_without_new_fields_reads_with_defaults(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"fingerprint": "f", "config": {"templates": "t", "n": 5,
                                                                                   "shard_size": 2}}))
    rec = read_render_record(Storage(tmp_path))
    assert rec.config == RenderConfig(templates=Path("t"), n=5, shard_size=2)
    assert (rec.template_ids, rec.content, rec.command, rec.created) == ((), {}, "", None)


@pytest.mark.parametrize("text,field", [
    ("{ not json", "does not parse"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"config": {"templates": "t", "n": "ten", "shard_size": 0.5}}', "no valid n, shard_size"),
    ('{"config": {"n": 3}}', "no valid templates"),
    ('{"config": {"templates": "t", "n": 3, "words": 7}}', "no valid words"),
    ('{"config": {"templates": "t", "n": 3, "size": 65}}', "--size must be even"),
    ('{"config": {"templates": "t", "n": 0}}', "--n must be 1 to"),
    ('{"config": {"templates": "t", "n": 3}, "template_ids": "ab"}', "no valid template_ids"),
])
def test_bad_render_config_is_one_line_naming_file_and_field(tmp_path, text, field):
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(KinetypeError) as caught:
        read_render_record(Storage(tmp_path))
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and str(tmp_path / CONFIG_FILE) in message and field in message


def test_not_a_dataset_folder(tmp_path):
    with pytest.raises(KinetypeError, match="not a kinetype dataset folder"):
        read_render_record(Storage(tmp_path))
    (tmp_path / "file").write_text("x")
    with pytest.raises(KinetypeError, match="is a file, not a dataset folder"):
        read_render_record(Storage(tmp_path / "file"))


@pytest.mark.parametrize("name", [MANIFEST, CARD_JSON, "shard-000001.parquet", "shard-000000.stats.json"])
def test_a_fifo_under_any_dataset_name_is_refused_when_the_dataset_is_opened(tmp_path, name):
    """Whichever file a command reads next (export never reads the card), a FIFO under a dataset
    name is refused by the one reader every command starts with, before anything is opened."""
    write_render_record(Storage(tmp_path), record())
    os.mkfifo(tmp_path / name)
    with pytest.raises(KinetypeError) as caught:
        read_render_record(Storage(tmp_path))
    assert str(caught.value) == f"{tmp_path / name}: not a regular file (a FIFO): remove it, or render the dataset again"
    os.unlink(tmp_path / name)
    os.mkfifo(tmp_path / ".shard-000001.tmp-0-0-0.tar")  # not a dataset name: another process's temporary
    read_render_record(Storage(tmp_path))
