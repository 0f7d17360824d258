"""`kinetype train` with no --stage: the three stages in turn, resumed by running it again; the shard
check; the glyph autoencoder through the loop; the GPU script's CPU path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from typer.testing import CliRunner  # noqa: E402

from kinetype.cli import app  # noqa: E402
from kinetype.train import loop  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402

torch.set_num_threads(1)
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "shards"
    r = runner.invoke(app, ["render", "--n", "6", "--out", str(out), "--shard-size", "3", "--size", "32",
                            "--frames", "8", "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    return out


def train(*args):
    return runner.invoke(app, ["train", "--preset", "tiny", *map(str, args)])


def test_plain_train_runs_every_stage_then_resumes_without_redoing_one(shards, tmp_path):
    root = tmp_path / "runs"
    (tmp_path / "t.toml").write_text("checkpoint_every = 2\n\n[data]\nnum_frames = 4\nbatch_size = 2\nshuffle_buffer = 4\n")
    args = ["--shards", shards, "--out", root, "--config", tmp_path / "t.toml", "--max-steps", 4]
    r = train(*args)
    assert r.exit_code == 0, r.output
    for stage in ("autoencoder", "image", "video"):
        assert (root / stage / "pipeline" / "model_index.json").is_file(), stage
    assert json.loads((root / "image" / "config.json").read_text())["init"] == str(root / "autoencoder" / "pipeline")
    assert f"--model {root / 'video' / 'pipeline'}" in r.output
    image_weights = (root / "image" / "pipeline" / "denoiser" / "model.safetensors").read_bytes()

    # Interrupted in the video stage after step 2: its export and later checkpoint are gone.
    shutil.rmtree(root / "video" / "pipeline")
    shutil.rmtree(root / "video" / "checkpoints" / "step_00000004")
    r = train(*args)
    assert r.exit_code == 0, r.output
    assert "autoencoder: done" in r.output and "image: done" in r.output
    assert "resumed" in r.output and "at step 2" in r.output
    assert (root / "video" / "pipeline" / "model_index.json").is_file()
    assert (root / "image" / "pipeline" / "denoiser" / "model.safetensors").read_bytes() == image_weights


@pytest.mark.parametrize("spec, message", [("nope", "nope: no shards found"), ("EMPTY", "hold no samples")])
def test_missing_or_empty_shards_are_refused_before_anything_is_built(tmp_path, spec, message):
    if spec == "EMPTY":
        (tmp_path / "ds").mkdir()
        (tmp_path / "ds" / "shard-000000.tar").write_bytes(b"")
        spec = str(tmp_path / "ds")
    for args in (["--stage", "autoencoder"], []):  # one stage, and the whole pipeline
        r = train("--shards", spec, "--out", tmp_path / "run", *args)
        assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, r.output
    assert not (tmp_path / "run").exists()


def test_glyph_autoencoder_trains_exports_and_its_decoder_follows_the_layout(tmp_path):
    from kinetype.pipeline import Pipeline

    over = {"stage": "autoencoder", "out": str(tmp_path / "ae"), "data": {"shards": "synthetic", "batch_size": 2},
            "optim": {"max_steps": 3}, "model": {"autoencoder": {"kind": "glyph", "block_out_channels": [8, 16, 16]}},
            "checkpoint_every": 100, "sample_every": 0}
    ae_pipe = loop.train(resolve("tiny", overrides=over), echo=lambda s: None)
    over = {"stage": "video", "out": str(tmp_path / "video"), "init": str(ae_pipe),
            "data": {"shards": "synthetic", "batch_size": 1, "num_frames": 4}, "optim": {"max_steps": 2},
            "checkpoint_every": 100, "sample_every": 0}
    pipe = Pipeline.from_pretrained(loop.train(resolve("tiny", overrides=over), echo=lambda s: None))
    assert pipe.autoencoder.glyph
    z = torch.randn(1, 4, 4, 8, 8)
    blank, box = torch.zeros(1, 4, 32, 32), torch.zeros(1, 4, 32, 32)
    box[..., 8:24, 8:24] = 1
    with torch.no_grad():
        a, b = pipe.autoencoder.decode(z, blank), pipe.autoencoder.decode(z, box)
    # Outside the box the two layouts agree far more than inside it: the mask steers the pixels.
    inside = (a - b).abs()[..., 8:24, 8:24].mean()
    outside = (a - b).abs()[..., :4, :].mean()
    assert inside > 3 * outside


def test_one_stage_starts_from_the_previous_stage_under_the_default_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = train("--stage", "image", "--shards", "synthetic", "--dry-run")
    assert r.exit_code == 2 and "train one first" in r.output  # no runs/kinetype/autoencoder yet: says so


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_script_cpu_path_trains_measures_and_scores(tmp_path):
    pytest.importorskip("rapidocr")
    env = {**os.environ, "PRESET": "tiny", "CLIPS": "6", "SIZE": "32", "FRAMES": "8", "EVAL_N": "2",
           "SPEED_STEPS": "1", "SPEED_REPEATS": "1", "SAMPLE_STEPS": "2", "PYTHON": sys.executable,
           "KINETYPE": str(Path(sys.executable).with_name("kinetype"))}
    out = tmp_path / "gpu"
    p = subprocess.run(["bash", str(ROOT / "tools" / "gpu_train.sh"), "0.02", str(out)], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert (out / "pipeline" / "model_index.json").is_file()
    figures = (out / "figures.txt").read_text()
    assert "train speed: preset tiny" in figures and "sample speed: preset tiny" in figures
    report = json.loads((out / "eval" / "report.json").read_text())
    assert report["summary"]["clips"] == 2
    # Each stage fixed its step count from its share of the budget (not max_steps) and spent it.
    assert all(f"{stage}: " in p.stdout for stage in ("autoencoder", "image", "video"))
    assert p.stdout.count("of the budget") == 3


@pytest.mark.parametrize("toml, message", [
    ('[optim]\nlr = "fast"\n', "optim.lr: expected a number, got 'fast'"),
    ("[optim]\nlr = 0\n", "optim.lr must be a number between 0 and 1"),
    ("[data]\nbatch_size = 0\n", "data.batch_size must be at least 1"),
    ('[data]\nvideo_dtype = "rgb"\n', "data.video_dtype must be one of"),
    ('precision = "fp8"\n', "precision: expected one of 'bf16', 'fp32'"),
    ("[model.denoiser]\nchannels = []\n", "model.denoiser.channels must be a list of 1 to 8 widths"),
    ("data = 3\n", "data: expected a table of settings"),
    ("[data]\nsize_px = 36\n", "data.size_px must be a multiple of"),
    ("[stages.vidoe.optim]\nmax_steps = 3\n", "stages.vidoe: unknown stage"),
    ("[optim]\nmax_steps = 2.5\n", "optim.max_steps: expected an integer"),
    ("[optim]\ngrad_accum_steps = 1000000000\n", "optim.grad_accum_steps must be at most 65,536"),
    ("[model.denoiser]\nhead_dim = 1000000000000\n", "model.denoiser.head_dim must be an integer from 1 to 1024"),
    ("[model.autoencoder]\nlatent_channels = 1000000000\n", "model.autoencoder.latent_channels must be an integer from 1 to 64"),
    # A stage's table is checked whichever stage runs (the autoencoder stage here, or the first of all).
    ('[stages.video.optim]\nlr = "fast"\n', "[stages.video]: optim.lr: expected a number, got 'fast'"),
    ("[stages.image.optim]\nmax_steps = 0\n", "[stages.image]: optim.max_steps must be at least 1"),
    ('[stages.video]\nstage = "image"\n', "stages.video.stage: a stage's table holds that stage's settings"),
    ("\ufeff[optim]\nlr = 0\n", "optim.lr must be a number between 0 and 1"),  # a BOM is read past
])
def test_bad_config_values_are_refused_in_one_line_by_dry_run(tmp_path, toml, message):
    (tmp_path / "c.toml").write_text(toml)
    for args in (["--stage", "autoencoder"], []):
        r = train("--shards", "synthetic", "--config", tmp_path / "c.toml", "--out", tmp_path / "run", "--dry-run", *args)
        assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, r.output
    assert not (tmp_path / "run").exists()


RECIPES = sorted((ROOT / "benchmarks" / "training_options").glob("*.toml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_the_recipes_the_docs_run_resolve_on_the_cpu_preset(recipe):
    # docs/model.md and the model card give these files to `kinetype train --preset cpu --config`.
    assert resolve("cpu", recipe).preset == "cpu"
