"""The bundled library and the template schema: count, ids, tags, distinct motions, errors naming file and field."""

import os
from pathlib import Path

import numpy as np
import pytest

from kinetype.errors import TemplateError
from kinetype.render.templates import load_templates, scan_templates
from kinetype.render.schema import TAGS
from kinetype.render.signature import canonical_signature

GOOD = '''
[[template]]
id = "my-drop"
description = "Letters drop in."
motion_tag = "drop"

[template.enter]
motion = "fly"
duration = [0.3, 0.4]
easing = ["out-bounce", "out-cubic"]
order = "left-to-right"
params = { angle = 90, distance = [0.5, 0.8] }
'''


def test_bundled_library_has_600_plus_templates_with_stable_ids(templates):
    assert len(templates) >= 600
    ids = [t.id for t in templates]
    assert len(set(ids)) == len(ids)
    assert all("." not in i for i in ids)
    for t in templates:
        assert t.description and t.motion_tag
        assert set(t.tags) <= set(TAGS) and t.tags


def test_library_covers_every_category(templates):
    tags = {tag for t in templates for tag in t.tags}
    assert {"position", "size", "glyph", "enter", "emphasis", "exit"} <= tags
    for tag in ("position", "size", "glyph"):
        assert sum(tag in t.tags for t in templates) >= 50, tag


def test_no_two_templates_produce_the_same_motion(templates):
    """Compare every pair's canonical per-letter transform tracks."""
    sigs = [canonical_signature(t) for t in templates]
    by_len = {}
    for t, s in zip(templates, sigs):
        by_len.setdefault(s.shape[0], []).append((t.id, s))
    for group in by_len.values():
        ids = [g[0] for g in group]
        m = np.stack([g[1] for g in group])
        sq = (m * m).sum(1)
        d2 = sq[:, None] + sq[None, :] - 2 * m @ m.T  # pairwise squared distances
        np.fill_diagonal(d2, np.inf)
        i, j = np.unravel_index(np.argmin(d2), d2.shape)
        # Distance over all channels, letters and frames; 0.05 is e.g. one letter 5% of a frame
        # width apart in one frame, or a 2% position difference held over 6 frames.
        assert d2[i, j] > 0.05**2, f"{ids[i]} and {ids[j]} have the same motion"


def write(tmp_path: Path, text: str, name="t.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_user_can_drop_in_a_template(tmp_path):
    write(tmp_path, GOOD)
    [t] = load_templates(tmp_path)
    assert t.id == "my-drop" and t.tags == ("position", "enter")


def test_a_byte_order_mark_is_read_past_and_a_fifo_is_refused_unopened(tmp_path):
    """Windows editors start a UTF-8 file with a BOM: the template reads as it shows. A FIFO named
    like a template file would block an open for ever: one error naming it instead."""
    (tmp_path / "t.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    [t] = load_templates(tmp_path)
    assert t.id == "my-drop"
    os.mkfifo(tmp_path / "f.toml")
    _, errors = scan_templates(tmp_path)
    assert [e.path for e in errors] == [str(tmp_path / "f.toml")] and "not a regular file (a FIFO)" in str(errors[0])


@pytest.mark.parametrize("edit, field, words", [
    (('motion = "fly"', 'motion = "flyy"'), "template[0].enter.motion", "unknown motion 'flyy'"),
    (('motion = "fly"', 'motion = "wave"'), "template[0].enter.motion", "cannot be used as enter"),
    (("angle = 90", 'angle = "up"'), "template[0].enter.params.angle", "expected a number"),
    (("angle = 90", "angle = 400"), "template[0].enter.params.angle", "outside the allowed 0..360"),
    (("angle = 90", "speed = 3"), "template[0].enter.params.speed", "unknown field"),
    (('order = "left-to-right"', 'order = "sideways"'), "template[0].enter.order", "unknown value 'sideways'"),
    (('easing = ["out-bounce", "out-cubic"]', 'easing = "out-bouncy"'), "template[0].enter.easing", "out-bouncy"),
    (("duration = [0.3, 0.4]", "duration = [0.4, 0.3]"), "template[0].enter.duration", "low > high"),
    (('id = "my-drop"', 'id = "my.drop"'), "template[0].id", "not a valid id"),
    (('description = "Letters drop in."', ""), "template[0].description", "missing required field"),
    (('motion_tag = "drop"', 'motion_tag = "drop"\ncolour = "red"'), "template[0].colour", "unknown field"),
])
def test_bad_template_errors_name_file_and_field(tmp_path, edit, field, words):
    old, new = edit
    assert old in GOOD
    p = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(TemplateError) as e:
        load_templates(tmp_path)
    msg = str(e.value)
    assert str(p) in msg and field in msg and words in msg, msg
    assert "\n" not in msg


def test_toml_syntax_error_names_the_file(tmp_path):
    p = write(tmp_path, GOOD + "\n[[template]\nid = ")
    with pytest.raises(TemplateError) as e:
        load_templates(tmp_path)
    assert str(p) in str(e.value) and "TOML syntax error" in str(e.value)


def test_tags_must_agree_with_motions(tmp_path):
    write(tmp_path, GOOD.replace('motion_tag = "drop"', 'motion_tag = "drop"\ntags = ["size", "enter"]'))
    with pytest.raises(TemplateError, match="disagree with the motions"):
        load_templates(tmp_path)


def test_duplicate_ids_across_files_are_refused(tmp_path):
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    found, errors = scan_templates(tmp_path)
    assert len(found) == 1 and "duplicate id 'my-drop'" in str(errors[0]) and "b.toml" in str(errors[0])


def test_scan_collects_every_error(tmp_path):
    write(tmp_path, GOOD, "ok.toml")
    write(tmp_path, GOOD.replace("my-drop", "x-1").replace("angle = 90", "angle = 999"), "bad1.toml")
    write(tmp_path, "not toml [", "bad2.toml")
    found, errors = scan_templates(tmp_path)
    assert [t.id for t in found] == ["my-drop"] and len(errors) == 2


def test_default_templates_folder_is_the_working_folders_else_the_bundled(tmp_path, monkeypatch):
    from kinetype.render.templates import BUNDLED_TEMPLATES, default_templates

    monkeypatch.chdir(tmp_path)
    assert default_templates() == BUNDLED_TEMPLATES
    (tmp_path / "templates").mkdir()
    assert default_templates().resolve() == (tmp_path / "templates").resolve()
