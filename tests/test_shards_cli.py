"""The dataset commands through typer's runner, on the real engine: render, shards verify (with a
corrupted and a missing shard), shards inspect --sheet, export --format kinety; and kill -9 then
resume of a real `kinetype render` process."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from PIL import Image
from typer.testing import CliRunner

from kinetype.cli import app
from kinetype.shards.verify import EXIT_BOTH, EXIT_CORRUPT, EXIT_MISSING, verify_dataset
from test_shards_helpers import REPO, copy_some_templates

runner = CliRunner()
TINY_ARGS = ["--size", "64", "--frames", "8", "--fps", "8"]


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return copy_some_templates(tmp_path_factory.mktemp("templates"), count=2)


@pytest.fixture(scope="module")
def rendered(templates, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ds"
    args = ["render", "--templates", str(templates), "--n", "7", "--shard-size", "3", "--out", str(out),
            "--workers", "2", "--seed", "5", "--quiet", *TINY_ARGS]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, args


def test_render_then_verify_ok(rendered):
    out, _ = rendered
    assert len(list(out.glob("shard-*.tar"))) == 3 and (out / "manifest.parquet").exists()
    result = runner.invoke(app, ["shards", "verify", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 valid of 7 expected" in result.output
    card = json.loads((out / "dataset_card.json").read_text())
    assert card["samples"] == 7 and card["failed"] == 0 and sum(card["counts"]["font"].values()) == 7


def test_render_again_does_nothing_and_changed_config_is_refused(rendered):
    out, args = rendered
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "nothing to do" in result.output
    result = runner.invoke(app, [a if a != "5" else "6" for a in args])
    assert result.exit_code == 2
    assert "another configuration (seed 5 -> 6)" in result.output and "Traceback" not in result.output


def test_verify_reports_corrupt_and_missing(rendered, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(rendered[0], out)
    tar = out / "shard-000001.tar"
    raw = bytearray(tar.read_bytes())
    with tarfile.open(tar) as t:
        mp4 = next(m for m in t if m.name.endswith(".mp4"))
    for i in range(mp4.offset_data + 48, mp4.offset_data + mp4.size - 8):
        raw[i] = 0  # wipe the video
    tar.write_bytes(bytes(raw))
    report = verify_dataset(out)
    assert report.exit_code == EXIT_CORRUPT and any(k == mp4.name.split(".")[0] for k, _ in report.corrupt)
    assert runner.invoke(app, ["shards", "verify", str(out)]).exit_code == EXIT_CORRUPT
    (out / "shard-000002.stats.json").unlink()
    assert verify_dataset(out).exit_code == EXIT_BOTH
    shutil.copy(rendered[0] / "shard-000001.tar", tar)
    result = runner.invoke(app, ["shards", "verify", str(out)])
    assert result.exit_code == EXIT_MISSING and "shard-000002 (not complete)" in result.output


def test_inspect_with_sheet(rendered, tmp_path):
    sheet = tmp_path / "sheet.png"
    result = runner.invoke(app, ["shards", "inspect", str(rendered[0]), "--sheet", str(sheet), "--samples", "3"])
    assert result.exit_code == 0, result.output
    assert "7 of 7 planned" in result.output and "templates" in result.output
    assert Image.open(sheet).size[1] > 3 * 64


def test_export_kinety_layout(rendered, tmp_path):
    out = tmp_path / "kinety"
    result = runner.invoke(app, ["export", "--format", "kinety", str(rendered[0]), str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "video_info.csv", encoding="utf-8")))
    assert list(rows[0]) == ["effect_num", "word", "caption_st", "caption_dy", "word_embed"]
    assert len(rows) + int(result.output.split("(")[-1].split()[0] if "skipped" in result.output else 0) == 7
    for r in rows:
        effect = int(r["effect_num"])
        assert (out / "videos" / f"{effect:04d}" / f"{r['word']}.mp4").stat().st_size > 0
        mask = Image.open(out / "mask" / f"{effect:04d}" / f"{r['word']}.png")
        assert mask.mode == "L" and mask.size == (64, 64)
        assert r["word_embed"].replace("^", "").replace("|", "") == r["word"]
    assert runner.invoke(app, ["export", "--format", "nope", str(rendered[0]), str(out)]).exit_code == 2


def test_not_a_dataset_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["shards", "verify", str(tmp_path)])
    assert result.exit_code == 2 and "not a kinetype dataset folder" in result.output


def test_kill_9_then_resume_real_render(templates, tmp_path):
    out = tmp_path / "ds"
    args = [sys.executable, "-m", "kinetype", "render", "--templates", str(templates), "--n", "60",
            "--shard-size", "4", "--out", str(out), "--workers", "1", "--quiet",
            "--size", "128", "--frames", "12", "--fps", "8"]
    proc = subprocess.Popen(args, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.stats.json"))) < 2 and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("*.stats.json")))
    assert 2 <= done < 15, "the render should have been killed mid-way"
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"({done} already complete)" in " ".join(result.stderr.split())
    keys = []
    for tar in sorted(out.glob("shard-*.tar")):
        with tarfile.open(tar) as t:
            keys += [m.name.split(".")[0] for m in t if m.name.endswith(".json")]
    assert len(keys) == len(set(keys)) == 60
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    assert verify_dataset(out).exit_code == 0
