"""`kinetype eval renders|model` through the CLI and the evaluate_model API on a tiny random model:
files written, same seed same report, one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kinetype.cli import app
from kinetype.eval.readers import reader_available

runner = CliRunner()
needs_ppocr = pytest.mark.skipif(reader_available("ppocr") is not None, reason=str(reader_available("ppocr")))


def ev(*args):
    return runner.invoke(app, ["eval", *map(str, args)])


@needs_ppocr
def test_eval_renders_writes_the_report_and_is_deterministic(tmp_path):
    for name in ("a", "b"):
        r = ev("renders", "--n", 2, "--workers", 1, "--quiet", "--out", tmp_path / name)
        assert r.exit_code == 0, r.output
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())
    assert a == b
    assert a["config"]["reader_versions"]["ppocr"].startswith("rapidocr ")
    for key in ("word_acc_ci", "word_acc_merged", "word_acc_exact", "ned", "mask_iou", "text_delta_e", "background_delta_e"):
        assert key in a["summary"]
    assert a["finders"] and len(a["rows"]) == 2 and a["summary"]["flicker"] == 0.0
    assert (tmp_path / "a" / "report.md").read_text().startswith("# kinetype eval renders")
    assert (tmp_path / "a" / "contact_sheet.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["renders", "--n", "0"], "--n must be 1 to"),
    (["model", "--n", "-3"], "--n must be 1 to"),
    (["renders", "--reader", "easyocr"], "--reader must be ppocr, tesseract or both"),
    (["model", "--model", "/nonexistent/model", "--n", "2"], "no model at /nonexistent/model"),
])
def test_bad_input_gets_a_one_line_error(tmp_path, args, message):
    r = ev(*args, "--out", tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert message in r.output and r.output.strip().count("\n") == 0, r.output


def test_unwritable_out_gets_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    r = ev("renders", "--n", "2", "--out", tmp_path / "file" / "sub")
    assert r.exit_code == 2 and "--out" in r.output and "is a file, not a folder" in r.output and r.output.strip().count("\n") == 0, r.output


@needs_ppocr
def test_evaluate_model_on_a_tiny_model(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from kinetype.eval import EvalReport, evaluate_model
    from model_helpers import tiny_pipeline_folder

    torch.set_num_threads(1)
    model = tiny_pipeline_folder(tmp_path / "model")
    rep = evaluate_model(model, n=2, seed=1, steps=2, workers=1, out=tmp_path / "out", progress=False)
    assert isinstance(rep, EvalReport) and rep.kind == "model" and len(rep.rows) == 2
    for key in ("word_acc_ci", "word_acc_merged", "word_acc_exact", "ned", "mask_iou", "text_delta_e",
                "background_delta_e", "flicker", "seconds_per_clip"):
        assert key in rep.summary
    assert rep.summary["seconds_per_clip"] > 0 and rep.summary["flicker"] > 0  # noise flickers
    again = evaluate_model(model, n=2, seed=1, steps=2, workers=1, progress=False)
    assert [r["ppocr.read"] for r in again.rows] == [r["ppocr.read"] for r in rep.rows]
    assert again.summary["mask_iou"] == rep.summary["mask_iou"]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["config"]["glyph"] is True
    assert 0 < rep.summary["loop_seam"] < 100 and all("first_mae" not in r for r in rep.rows)


@needs_ppocr
def test_evaluate_model_animates_the_references_first_frame_and_loops(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from kinetype.eval import evaluate_model
    from model_helpers import tiny_pipeline_folder

    torch.set_num_threads(1)
    model = tiny_pipeline_folder(tmp_path / "model", given_frames=True)
    first = evaluate_model(model, n=2, seed=1, steps=2, workers=1, progress=False, given="first")
    assert all(0 <= r["first_mae"] <= 255 for r in first.rows) and first.summary["first_mae"] > 0
    assert first.config["given"] == "first"
    loop = evaluate_model(model, n=2, seed=1, steps=2, workers=1, progress=False, given="loop")
    assert "first_mae" not in loop.rows[0] and loop.summary["loop_seam"] >= 0
    plain = tiny_pipeline_folder(tmp_path / "plain")
    assert evaluate_model(plain, n=1, seed=1, steps=2, workers=1, progress=False, given="loop").config["pin"] is True
    r = ev("model", "--model", plain, "--n", 1, "--steps", 2, "--given", "loop", "--no-pin", "--out", tmp_path / "e")
    assert r.exit_code != 0 and "not trained with given frames" in r.output and len(r.output.strip().splitlines()) == 1
    r = ev("model", "--model", model, "--n", 1, "--given", "middle", "--out", tmp_path / "e")
    assert r.exit_code != 0 and "--given must be one of none, first, loop" in r.output


@needs_ppocr
def test_evaluate_autoencoder_scores_the_references_round_trip(tmp_path):
    """A lossless autoencoder scores exactly what the engine's renders score (the ceiling of any
    model); the model's own autoencoder loses something, the same way at every run."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from kinetype.eval import evaluate_autoencoder, evaluate_renders
    from kinetype.pipeline import load_pipeline
    from model_helpers import tiny_pipeline_folder

    class Lossless(torch.nn.Module):  # latents = the frames: a perfect round trip
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))  # the pipeline's device is its parameters'

        def encode(self, video, masks=None):
            return video

        def decode(self, latents, masks=None):
            return latents

    torch.set_num_threads(1)
    pipe = load_pipeline(tiny_pipeline_folder(tmp_path / "model"))
    size, frames, fps = pipe.size_px, pipe.num_frames, pipe.fps
    engine = evaluate_renders(n=2, seed=1, size=size, num_frames=frames, fps=fps, workers=1, progress=False)
    own = evaluate_autoencoder(pipe, n=2, seed=1, workers=1, progress=False)
    again = evaluate_autoencoder(pipe, n=2, seed=1, workers=1, progress=False)
    pipe.autoencoder = Lossless()
    lossless = evaluate_autoencoder(pipe, n=2, seed=1, workers=1, progress=False)
    assert lossless.kind == "autoencoder" and lossless.config["glyph"] is True
    for key in ("word_acc_ci", "ned", "mask_iou", "text_delta_e", "background_delta_e", "flicker"):
        assert lossless.summary[key] == pytest.approx(engine.summary[key], nan_ok=True), key
    assert own.summary["text_delta_e"] != engine.summary["text_delta_e"]  # a random autoencoder is lossy
    assert [r["ppocr.read"] for r in again.rows] == [r["ppocr.read"] for r in own.rows]
    assert again.summary["text_delta_e"] == own.summary["text_delta_e"]


def test_eval_autoencoder_on_a_missing_model_gets_one_line(tmp_path):
    r = ev("autoencoder", "--model", tmp_path / "none", "--n", 2, "--out", tmp_path / "out")
    assert r.exit_code == 2 and "no model at" in r.output and r.output.strip().count("\n") == 0, r.output
    assert not (tmp_path / "out").exists()


@needs_ppocr
def test_eval_autoencoder_reads_an_autoencoder_stage_export(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from kinetype.train import loop
    from kinetype.train.config import resolve

    cfg = resolve("tiny", overrides={"stage": "autoencoder", "out": str(tmp_path / "ae"),
                                     "data": {"shards": "synthetic", "batch_size": 2}, "optim": {"max_steps": 1}})
    folder = loop.train(cfg, echo=lambda s: None)
    r = ev("autoencoder", "--model", folder, "--n", 1, "--workers", 1, "--quiet", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "report.md").read_text().startswith("# kinetype eval autoencoder")
