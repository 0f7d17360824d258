"""`kinetype generate` and `kinetype train` through the CLI: written clips, matching, one-line errors,
and training on real shards rendered by the engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from typer.testing import CliRunner  # noqa: E402

from kinetype.cli import app  # noqa: E402
from model_helpers import tiny_autoencoder_folder, tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)
runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_pipeline_folder(tmp_path_factory.mktemp("gen") / "model")


def gen(*args):
    return runner.invoke(app, ["generate", *map(str, args)])


def test_generate_writes_playable_clips_with_the_requested_frames_and_fps(model, tmp_path):
    import av
    from PIL import Image

    r = gen("Hello", "--motion", "bounce in", "--model", model, "--steps", 3, "--frames", 6, "--fps", 4,
            "--out", tmp_path / "a.mp4")
    assert r.exit_code == 0, r.output
    assert "motion 'bounce in' -> template " in r.output and "word: H^|e|l|l|o" in r.output
    with av.open(str(tmp_path / "a.mp4")) as c:
        stream = c.streams.video[0]
        assert stream.average_rate == 4
        assert sum(1 for _ in c.decode(video=0)) == 6

    r = gen("Hi", "--template", "glitch-in-ltr", "--model", model, "--steps", 2, "--frames", 5, "--fps", 10,
            "--out", tmp_path / "b.gif", "--no-glyph", "--style", "red neon letters on black")
    assert r.exit_code == 0, r.output
    assert "static: red neon letters on black" in r.output
    with Image.open(tmp_path / "b.gif") as im:
        assert im.n_frames == 5 and im.info["duration"] == 100

    r = gen("Hi", "--motion", "glitch", "--model", model, "--steps", 2, "--out", tmp_path / "c.png")
    assert r.exit_code == 0, r.output
    assert np.asarray(Image.open(tmp_path / "c.png")).ndim == 3


def test_same_seed_same_clip(model, tmp_path):
    from PIL import Image

    for name in ("x.gif", "y.gif"):
        assert gen("Hey", "--motion", "wave", "--model", model, "--steps", 2, "--seed", 7, "--out", tmp_path / name).exit_code == 0
    a, b = Image.open(tmp_path / "x.gif"), Image.open(tmp_path / "y.gif")
    assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


@pytest.mark.parametrize("args, message", [
    (["He11o", "--motion", "wave"], "'1' at position 3"),
    (["Hello", "--template", "no-such-template"], "no template with id"),
    (["Hello", "--motion", "xyzzy"], "no template matches the motion"),
    (["Hello", "--motion", "wave", "--model", "/nonexistent/model"], "no model at /nonexistent/model: train one"),
])
def test_bad_input_gets_a_one_line_error(model, tmp_path, args, message):
    if "--model" not in args:
        args = [*args, "--model", str(model)]
    r = gen(*args, "--out", tmp_path / "z.gif")
    assert r.exit_code == 2
    assert message in r.output and r.output.strip().count("\n") == 0, r.output


def test_corrupt_weights_get_a_one_line_error(model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "text_encoder" / "model.safetensors").write_bytes(b"garbage")
    r = gen("Hello", "--motion", "wave", "--model", broken, "--out", tmp_path / "z.gif")
    assert r.exit_code == 2 and "corrupt weights" in r.output and r.output.strip().count("\n") == 0


def test_train_dry_run_prints_the_resolved_config(tmp_path):
    r = runner.invoke(app, ["train", "--preset", "tiny", "--stage", "autoencoder", "--shards", "synthetic",
                            "--out", str(tmp_path / "run"), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert '"preset": "tiny"' in r.output and "autoencoder:" in r.output
    assert not (tmp_path / "run").exists()
    r = runner.invoke(app, ["train", "--preset", "huge", "--out", str(tmp_path / "run"), "--dry-run"])
    assert r.exit_code == 2 and "unknown preset 'huge'" in r.output


def test_train_on_rendered_shards_then_generate(tmp_path):
    """Engine -> shards -> loader -> trainer -> pipeline -> generate, all tiny."""
    r = runner.invoke(app, ["render", "--n", "4", "--out", str(tmp_path / "shards"), "--shard-size", "2",
                            "--size", "32", "--frames", "8", "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    ae = tiny_autoencoder_folder(tmp_path / "vae")
    (tmp_path / "t.toml").write_text("sample_every = 2\nsample_steps = 2\nnum_val_prompts = 1\n\n"
                                     "[data]\nnum_frames = 4\nbatch_size = 2\nshuffle_buffer = 4\n")
    r = runner.invoke(app, ["train", "--preset", "tiny", "--stage", "video", "--shards", str(tmp_path / "shards"),
                            "--autoencoder", str(ae), "--config", str(tmp_path / "t.toml"), "--max-steps", "2",
                            "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    run = tmp_path / "run"
    assert [json.loads(line)["step"] for line in open(run / "metrics.jsonl")] == [1, 2]
    samples = sorted(p.name for p in (run / "samples").iterdir())
    assert "step_00000002.png" in samples and "step_00000002_0.mp4" in samples and "step_00000002_0.gif" in samples
    assert any((run / "tb").iterdir())
    r = gen("Go", "--motion", "fade in", "--model", run / "pipeline", "--steps", 2, "--out", tmp_path / "go.gif")
    assert r.exit_code == 0, r.output


def test_flipped_byte_nan_weight_and_nan_guidance_each_give_one_line(model, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from kinetype.model.weights import digests

    flipped = tmp_path / "flipped"
    shutil.copytree(model, flipped)
    f = flipped / "denoiser" / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the middle of the weights
    f.write_bytes(bytes(data))
    r = gen("Hello", "--motion", "wave", "--model", flipped, "--out", tmp_path / "z.gif")
    assert r.exit_code == 2 and "corrupt weights" in r.output and r.output.strip().count("\n") == 0, r.output

    nan = tmp_path / "nan"
    shutil.copytree(model, nan)
    f = nan / "denoiser" / "model.safetensors"
    state = load_file(f)
    name = sorted(state)[0]
    state[name].view(-1)[0] = float("nan")
    save_file(state, f)
    index = json.loads((nan / "model_index.json").read_text())
    index["sha256"] = digests(nan)  # as a re-export would write it: only the NaN is wrong
    (nan / "model_index.json").write_text(json.dumps(index))
    r = gen("Hello", "--motion", "wave", "--model", nan, "--out", tmp_path / "z.gif")
    assert r.exit_code == 2 and "non-finite" in r.output and r.output.strip().count("\n") == 0, r.output

    for args, message in ((["--guidance", "nan"], "--guidance"), (["--steps", "0"], "--steps"),
                          (["--frames", "0"], "--frames"), (["--fps", "0"], "--fps"), (["--seed", "-1"], "--seed")):
        r = gen("Hello", "--motion", "wave", "--model", model, "--out", tmp_path / "z.gif", *args)
        assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (args, r.output)
    assert not (tmp_path / "z.gif").exists()


def test_generate_as_written_uses_the_bundled_model_from_any_folder_and_never_overwrites(tmp_path, monkeypatch):
    """`kinetype generate "HELLO" --motion "bounce in"` exactly: no --out, no --model, another folder."""
    import av

    from kinetype.pipeline import DEFAULT_MODEL_DIR

    assert (DEFAULT_MODEL_DIR / "model_index.json").is_file(), "the bundled model is missing"
    monkeypatch.chdir(tmp_path)
    r = gen("HELLO", "--motion", "bounce in", "--steps", 2)
    assert r.exit_code == 0, r.output
    out = tmp_path / "HELLO-bounce-in.mp4"
    assert f"wrote {out.name}" in r.output and " s" in r.output.splitlines()[-1]
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 1
    first = out.read_bytes()
    r = gen("HELLO", "--motion", "bounce in", "--steps", 2)
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == first and (tmp_path / "HELLO-bounce-in-2.mp4").is_file()
