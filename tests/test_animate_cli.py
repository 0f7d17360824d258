"""`kinetype animate` and `generate --loop` through the CLI: a design (any size or mode) becomes a
clip, the word is read from it when not given, and bad input gets one line and writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from kinetype import animate as animate_module  # noqa: E402
from kinetype.cli import app  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)
runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("animate")
    return tiny_pipeline_folder(root / "given", given_frames=True), tiny_pipeline_folder(root / "plain")


def design(path, size=(32, 32), mode="RGB", seed=0):
    a = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    Image.fromarray(a).convert(mode).save(path)
    return path


def cli(*args):
    r = runner.invoke(app, [*map(str, args)])
    return r.exit_code, r.output


def frames_of(gif):
    with Image.open(gif) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return out


def test_animate_writes_a_clip_from_a_design_and_the_same_seed_writes_the_same_bytes(models, tmp_path):
    given, _ = models
    image = design(tmp_path / "d.png")
    for name in ("a.gif", "b.gif"):
        code, out = cli("animate", image, "--word", "Hi", "--motion", "bounce in", "--model", given,
                        "--steps", 2, "--out", tmp_path / name)
        assert code == 0, out
    assert "word: H^|i" in out and "wrote " in out
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    code, out = cli("animate", image, "--word", "Hi", "--motion", "bounce in", "--model", given, "--steps", 2,
                    "--to", design(tmp_path / "e.png", seed=1), "--out", tmp_path / "c.gif")
    assert code == 0, out
    assert frames_of(tmp_path / "c.gif")[0].shape == (32, 32, 3)


def test_a_design_of_another_size_or_mode_is_fitted_with_a_note(models, tmp_path):
    given, _ = models
    code, out = cli("animate", design(tmp_path / "wide.png", size=(80, 40), mode="RGBA"), "--word", "Hi",
                    "--motion", "glitch", "--model", given, "--steps", 2, "--out", tmp_path / "w.gif")
    assert code == 0, out
    assert "converted from RGBA to RGB" in out and "80x40 padded to 80x80" in out and "to the model's 32x32" in out
    code, out = cli("animate", design(tmp_path / "grey.png", mode="L"), "--word", "Hi", "--motion", "glitch",
                    "--model", given, "--steps", 2, "--out", tmp_path / "g.gif")
    assert code == 0 and "converted from L to RGB" in out, out


def test_fit_design_pads_with_the_border_colour_and_keeps_the_design_whole():
    a = np.zeros((20, 40, 3), np.uint8)
    a[:] = (10, 200, 30)
    a[8:12, 18:22] = 255
    fitted = animate_module.fit_design(Image.fromarray(a), 40, "IMAGE", echo=lambda s: None)
    assert fitted.shape == (40, 40, 3)
    assert (fitted[:10] == (10, 200, 30)).all() and (fitted[18:22, 18:22] == 255).all()


def test_the_word_is_read_from_the_design_when_not_given(models, tmp_path):
    given, _ = models
    calls = []

    def reader(frame):
        calls.append(frame.shape)
        return "Hel1o!"  # letters only are kept

    out = animate_module.animate(design(tmp_path / "d.png"), motion="bounce in", model=given, steps=2,
                                 out=tmp_path / "r.gif", echo=lambda s: None, read=reader)
    assert out.exists() and calls == [(32, 32, 3)]
    with pytest.raises(Exception, match="no word of 1-12 letters could be read .*pass --word"):
        animate_module.animate(design(tmp_path / "d.png"), motion="bounce in", model=given, steps=2,
                               out=tmp_path / "s.gif", echo=lambda s: None, read=lambda f: "123")
    assert not (tmp_path / "s.gif").exists()


@pytest.mark.parametrize("make, extra, message", [
    (lambda p: p / "missing.png", [], "IMAGE .*missing.png: no such file"),
    (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt", [], "IMAGE .*notes.txt: not an image"),
    (lambda p: design(p / "d.png"), ["--to", "nothing.png"], "--to nothing.png: no such file"),
    (lambda p: design(p / "d.png"), ["--loop", "--to", "x.png"], "--to or --loop, not both"),
    (lambda p: design(p / "d.png"), ["--out", "clip.avi"], "unknown output type"),
])
def test_bad_input_gets_one_line_and_writes_nothing(models, tmp_path, monkeypatch, make, extra, message):
    given, _ = models
    monkeypatch.chdir(tmp_path)
    image = make(tmp_path)
    before = set(tmp_path.iterdir())
    code, out = cli("animate", image, "--word", "Hi", "--motion", "glitch", "--model", given, "--steps", 2, *extra)
    assert code != 0 and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
    import re
    assert re.search(message, out), out
    assert set(tmp_path.iterdir()) == before


def test_a_model_without_given_frames_animates_and_loops_with_the_design_pinned(models, tmp_path):
    _, plain = models
    code, out = cli("animate", design(tmp_path / "d.png"), "--word", "Hi", "--motion", "glitch", "--model", plain,
                    "--steps", 2, "--out", tmp_path / "x.gif")
    assert code == 0, out
    code, out = cli("generate", "Hi", "--motion", "glitch", "--model", plain, "--steps", 2, "--loop",
                    "--out", tmp_path / "y.gif")
    assert code == 0, out
    assert frames_of(tmp_path / "x.gif") and frames_of(tmp_path / "y.gif")


def test_generate_loop_makes_a_clip_that_differs_from_the_plain_one(models, tmp_path):
    given, _ = models
    for name, extra in (("plain.gif", []), ("loop.gif", ["--loop"])):
        code, out = cli("generate", "Hi", "--motion", "bounce in", "--model", given, "--steps", 2,
                        "--out", tmp_path / name, *extra)
        assert code == 0, out
    plain, loop = frames_of(tmp_path / "plain.gif"), frames_of(tmp_path / "loop.gif")
    assert len(plain) == len(loop) and any(not np.array_equal(a, b) for a, b in zip(plain, loop))
