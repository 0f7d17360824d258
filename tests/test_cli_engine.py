"""Engine commands through typer's runner: templates list/validate/sheet, fonts list, preview."""

import json

import av
import numpy as np
from PIL import Image
from typer.testing import CliRunner

from kinetype.cli import app

runner = CliRunner()

GOOD = '''
[[template]]
id = "cli-pop"
description = "Letters pop in."
motion_tag = "pop in"

[template.enter]
motion = "pop"
easing = "out-back"
'''


def test_templates_list_json_has_a_record_per_template(templates):
    r = runner.invoke(app, ["templates", "list", "--json"])
    assert r.exit_code == 0, r.output
    records = json.loads(r.stdout)
    assert len(records) == len(templates)
    assert {"id", "tags", "motion_tag", "description"} <= set(records[0])


def test_templates_validate_ok_and_errors(tmp_path):
    r = runner.invoke(app, ["templates", "validate", "templates"])
    assert r.exit_code == 0 and "templates valid" in r.stdout
    (tmp_path / "a.toml").write_text(GOOD)
    (tmp_path / "b.toml").write_text(GOOD.replace("cli-pop", "cli-bad").replace('"pop"', '"popp"'))
    r = runner.invoke(app, ["templates", "validate", str(tmp_path)])
    assert r.exit_code == 1
    assert "b.toml: template[0].enter.motion: unknown motion 'popp'" in r.output.replace("\n", "")
    assert "Traceback" not in r.output


def test_templates_sheet_writes_pngs(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.toml").write_text(GOOD + GOOD.replace("cli-pop", "cli-pop-2").replace("out-back", "linear"))
    r = runner.invoke(app, ["templates", "sheet", "--templates", str(tmp_path / "t"), "--out", str(tmp_path / "s"),
                            "--size", "48", "--per-sheet", "1"])
    assert r.exit_code == 0, r.output
    sheets = sorted((tmp_path / "s").glob("*.png"))
    assert len(sheets) == 2
    assert Image.open(sheets[0]).size[1] == 48


def test_fonts_list():
    r = runner.invoke(app, ["fonts", "list", "--json"])
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert len(rows) >= 20


def test_preview_gif_mp4_png(tmp_path):
    for name in ("c.gif", "c.mp4", "c.png"):
        r = runner.invoke(app, ["preview", "pop-in-ltr", "--word", "Pop", "--seed", "3", "--out", str(tmp_path / name),
                                "--size", "64", "--frames", "8"] + (["--masks"] if name.endswith("png") else []))
        assert r.exit_code == 0, r.output
        assert "P^|o|p" in r.stdout
    with av.open(str(tmp_path / "c.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape == (64, 64, 3)
    assert Image.open(tmp_path / "c.gif").n_frames >= 2
    sheet = np.asarray(Image.open(tmp_path / "c.png"))
    assert sheet.shape[0] > 64 and sheet.shape[1] > 64


def test_preview_bad_input_is_one_line(tmp_path):
    cases = [
        (["preview", "pop-in-ltr", "--word", "He11o", "--out", str(tmp_path / "x.gif")], "'1' at position 3"),
        (["preview", "no-such-template", "--word", "Hi", "--out", str(tmp_path / "x.gif")], "no template with id"),
        (["preview", "pop-in-ltr", "--word", "Hi", "--out", str(tmp_path / "x.avi")], "unknown suffix"),
        (["preview", "pop-in-ltr", "--word", "Hi", "--size", "0", "--out", str(tmp_path / "x.gif")], "--size must be"),
        (["preview", "pop-in-ltr", "--word", "Hi", "--frames", "0", "--out", str(tmp_path / "x.gif")], "--frames must be"),
        (["preview", "pop-in-ltr", "--word", "Hi", "--fps", "0", "--out", str(tmp_path / "x.gif")], "--fps must be"),
        (["templates", "sheet", "--size", "0", "--out", str(tmp_path / "s")], "--size must be"),
    ]
    for args, needle in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        assert needle in r.output and "Traceback" not in r.output
        assert len([line for line in r.output.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "s").exists()  # nothing written


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, tmp_path):
    import kinetype.gallery

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kinetype.gallery, "preview", interrupted)
    r = runner.invoke(app, ["preview", "pop-in-ltr", "--word", "Hi", "--out", str(tmp_path / "x.gif")])
    assert r.exit_code == 130
    assert "interrupted" in r.output and "Traceback" not in r.output


def test_error_from_a_dataloader_worker_is_still_one_line(monkeypatch, tmp_path):
    """torch re-raises a worker's exception with the worker traceback in its message."""
    import torch.utils.data._utils as torch_utils

    import kinetype.gallery
    from kinetype.decode import ColourError

    def from_worker(*args, **kwargs):
        try:
            raise ColourError("video is BT.601 limited range: use dtype='uint8'")
        except ColourError:
            torch_utils.ExceptionWrapper(where="in DataLoader worker process 0").reraise()

    monkeypatch.setattr(kinetype.gallery, "preview", from_worker)
    r = runner.invoke(app, ["preview", "pop-in-ltr", "--word", "Hi", "--out", str(tmp_path / "x.gif")])
    assert r.exit_code == 2
    assert r.output.strip() == "error: video is BT.601 limited range: use dtype='uint8'"
