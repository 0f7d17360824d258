"""The settings spine: a clip's size, frames and fps (``ClipSettings``) and a sampling's solver, steps
and guidance (``SamplingSettings``) each have one home. Every layer reads its defaults from there,
every bad value is one line naming the option, and a request the model cannot serve is refused
before anything is loaded or rendered."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import subprocess
import sys

import pytest
import typer.main

from kinetype.cli import app
from kinetype.errors import KinetypeError
from kinetype.render.settings import MAX_FPS, MAX_FRAMES, MAX_SIZE, MIN_SIZE, ClipSettings
from kinetype.sample.settings import MAX_STEPS, SamplingSettings

CLIP = ClipSettings()
SAMPLING = SamplingSettings()
COMMANDS = typer.main.get_command(app)


def option_defaults(*path: str) -> dict:
    command = COMMANDS
    for name in path:
        command = command.commands[name]
    return {p.name: p.default for p in command.params}


# --- each default written once -------------------------------------------------------------------


@pytest.mark.parametrize("command", [("preview",), ("render",), ("eval", "renders")])
def test_the_cli_clip_options_default_to_the_clip_settings(command):
    defaults = option_defaults(*command)
    assert (defaults["size"], defaults["frames"], defaults["fps"]) == (CLIP.size, CLIP.frames, CLIP.fps)


@pytest.mark.parametrize("command", [("generate",), ("eval", "model")])
def test_the_cli_sampling_options_default_to_the_sampling_settings(command):
    defaults = option_defaults(*command)
    assert (defaults["steps"], defaults["guidance"]) == (SAMPLING.steps, SAMPLING.guidance)
    assert defaults.get("sampler", SAMPLING.sampler) == SAMPLING.sampler


def test_generate_takes_frames_and_fps_from_the_model_unless_told():
    defaults = option_defaults("generate")
    assert defaults["frames"] is None and defaults["fps"] is None


def test_the_python_api_and_the_configs_default_to_the_same_settings():
    from kinetype.eval.run import evaluate_model, evaluate_renders
    from kinetype.gallery import preview
    from kinetype.pipeline import Pipeline
    from kinetype.render.engine import render_clip
    from kinetype.sample.guidance import sample_latents
    from kinetype.shards.plan import RenderConfig
    from kinetype.train.config import TrainConfig

    def defaults(fn, *names):
        params = inspect.signature(fn).parameters
        return tuple(params[n].default for n in names)

    clip = (CLIP.size, CLIP.frames, CLIP.fps)
    for fn in (render_clip, preview, evaluate_renders):
        assert defaults(fn, "size", "num_frames", "fps") == clip, fn.__name__
    config = RenderConfig(templates="t", n=1)
    assert (config.size, config.num_frames, config.fps) == clip and config.clip == CLIP

    sampling = (SAMPLING.sampler, SAMPLING.steps, SAMPLING.guidance)
    for fn in (Pipeline.__call__, evaluate_model, sample_latents):
        assert defaults(fn, "sampler", "steps", "guidance") == sampling, fn.__name__
    train = TrainConfig()
    assert (train.sampler, train.sample_steps, train.guidance) == sampling


def test_the_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CLIP.frames = 12
    with pytest.raises(dataclasses.FrozenInstanceError):
        SAMPLING.steps = 3


def test_the_video_writer_keeps_the_engine_fps_bound():
    import numpy as np

    from kinetype.media import encode_mp4

    with pytest.raises(ValueError, match=f"1 to {MAX_FPS}"):
        encode_mp4(np.zeros((2, 16, 16, 3), np.uint8), fps=MAX_FPS + 1)


# --- a bad value is one line naming the option -------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"size": MIN_SIZE - 1}, f"--size must be {MIN_SIZE} to {MAX_SIZE} pixels, got {MIN_SIZE - 1}"),
    ({"size": 64.0}, "--size must be a whole number"),
    ({"size": True}, "--size must be a whole number"),
    ({"frames": 0}, f"--frames must be 1 to {MAX_FRAMES}, got 0"),
    ({"frames": MAX_FRAMES + 1}, f"--frames must be 1 to {MAX_FRAMES}, got {MAX_FRAMES + 1}"),
    ({"fps": MAX_FPS + 1}, f"--fps must be 1 to {MAX_FPS}, got {MAX_FPS + 1}"),
    ({"fps": "8"}, "--fps must be a whole number"),
])
def test_a_bad_clip_setting_is_one_line_naming_the_option(kwargs, message):
    with pytest.raises(KinetypeError) as e:
        ClipSettings(**kwargs)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, f"--steps must be 1 to {MAX_STEPS}, got 0"),
    ({"steps": 2.5}, "--steps must be a whole number"),
    ({"guidance": math.nan}, "--guidance must be a number from 0 to 100"),
    ({"guidance": -1.0}, "--guidance must be a number from 0 to 100"),
    ({"guidance": 1e300}, "--guidance must be a number from 0 to 100"),
    ({"sampler": "nope"}, "--sampler 'nope': choose from ddim, dpm++, euler"),
    ({"sampler": None}, "--sampler None: choose from"),
])
def test_a_bad_sampling_setting_is_one_line_naming_the_option(kwargs, message):
    with pytest.raises(KinetypeError) as e:
        SamplingSettings(**kwargs)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_every_registered_solver_is_a_valid_sampler():
    from kinetype.sample.solvers import SAMPLERS

    for name in SAMPLERS:
        assert SamplingSettings(sampler=name).sampler == name


def test_a_training_config_names_its_own_fields():
    from kinetype.model.errors import TrainingError
    from kinetype.train.config import resolve

    for field, value in (("sample_steps", 0), ("sampler", "nope"), ("guidance", -1.0), ("fps", 0)):
        with pytest.raises(TrainingError, match=f"^config: {field} ") as e:
            resolve("tiny", overrides={field: value})
        assert "--" not in str(e.value) and "\n" not in str(e.value)


def test_the_cli_reads_the_defaults_without_importing_torch_or_the_engine():
    code = "import sys, kinetype.cli; print(sorted({'torch', 'skia'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- a request the model cannot serve is refused before any work -------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    pytest.importorskip("torch")
    from model_helpers import tiny_pipeline_folder

    return tiny_pipeline_folder(tmp_path_factory.mktemp("settings") / "model")


def test_generate_refuses_frames_beyond_the_model_before_loading_or_rendering(model, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import kinetype.generate
    import kinetype.pipeline
    from kinetype.pipeline import read_model_folder

    def must_not_run(*args, **kwargs):
        raise AssertionError("called before the request was checked against the model")

    monkeypatch.setattr(kinetype.pipeline.Pipeline, "from_folder", must_not_run)
    monkeypatch.setattr(kinetype.pipeline, "load_network", must_not_run)
    monkeypatch.setattr(kinetype.generate, "render_clip", must_not_run)
    most = read_model_folder(model).model.denoiser.max_frames
    assert most < MAX_FRAMES  # else the engine's bound would refuse it first
    r = CliRunner().invoke(app, ["generate", "Hi", "--motion", "bounce in", "--model", str(model),
                                 "--frames", str(most + 1), "--out", str(tmp_path / "x.gif")])
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and f"--frames must be 1 to {most} (the most this model makes), got {most + 1}" in line
    assert not (tmp_path / "x.gif").exists()


def test_the_model_folder_gives_the_clip_it_makes(model):
    from kinetype.pipeline import read_model_folder

    folder = read_model_folder(model)
    assert folder.clip() == ClipSettings(folder.size_px, folder.num_frames, folder.fps)
    assert folder.clip(frames=2, fps=12) == ClipSettings(folder.size_px, 2, 12)


# --- training: fps comes from the shards ---------------------------------------------------------------


def rendered_at(folder, fps: int):
    """A dataset folder whose render_config.json records ``fps`` (no shard is needed to read it)."""
    from kinetype.shards.layout import RenderRecord, write_render_record
    from kinetype.shards.plan import RenderConfig
    from kinetype.shards.storage import Storage

    folder.mkdir()
    write_render_record(Storage(folder), RenderRecord(RenderConfig(templates=folder, n=1, fps=fps), "x"))
    return folder


def test_the_training_fps_is_the_shards_fps_over_the_frame_stride(tmp_path):
    pytest.importorskip("torch")
    from kinetype.train.config import resolve
    from kinetype.train.setup import resolve_model

    shards = rendered_at(tmp_path / "ds", fps=12)
    cfg = resolve("tiny", overrides={"stage": "autoencoder", "data": {"shards": str(shards), "frame_stride": 2}})
    assert cfg.fps is None  # not a setting
    assert resolve_model(cfg).fps == 6


def test_a_config_whose_fps_disagrees_with_its_shards_is_refused_in_one_line(tmp_path):
    pytest.importorskip("torch")
    from kinetype.model.errors import TrainingError
    from kinetype.train.config import config_from_json, config_to_json, resolve
    from kinetype.train.setup import resolve_model

    shards = rendered_at(tmp_path / "ds", fps=8)
    cfg = resolve("tiny", overrides={"stage": "autoencoder", "data": {"shards": str(shards), "frame_stride": 2}})
    saved = json.loads(config_to_json(cfg))
    saved["fps"] = 4  # a run config written when fps was typed by hand, and right: still read
    assert resolve_model(config_from_json(json.dumps(saved))).fps == 4
    saved["fps"] = 8  # and wrong
    with pytest.raises(TrainingError) as e:
        resolve_model(config_from_json(json.dumps(saved)))
    assert "fps 8 does not match the shards" in str(e.value) and "4 fps" in str(e.value) and "\n" not in str(e.value)


def test_synthetic_clips_take_the_engine_fps_over_the_stride():
    pytest.importorskip("torch")
    from kinetype.train.config import resolve
    from kinetype.train.setup import resolve_model

    cfg = resolve("tiny", overrides={"stage": "autoencoder", "data": {"shards": "synthetic", "frame_stride": 2}})
    assert resolve_model(cfg).fps == CLIP.fps // 2
