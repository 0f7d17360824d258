"""tools/make_templates.py replaces only the files it wrote, never a user's template file."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def make_templates():
    spec = importlib.util.spec_from_file_location("make_templates", ROOT / "tools" / "make_templates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keeps_user_files_and_replaces_its_own(make_templates, tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text('[[template]]\nid = "mine"\n')
    (tmp_path / "enter.toml").write_text(make_templates.GENERATED + "old entrances\n")
    (tmp_path / "retired.toml").write_text(make_templates.GENERATED + "a group the grid no longer has\n")
    make_templates.write_groups(tmp_path, {"enter": ["A", "B"], "exit": ["C"]})
    assert user.read_text() == '[[template]]\nid = "mine"\n'
    assert sorted(p.name for p in tmp_path.glob("*.toml")) == ["enter.toml", "exit.toml", "mine.toml"]
    assert (tmp_path / "enter.toml").read_text() == make_templates.GENERATED + "\nA\nB"


def test_refuses_to_overwrite_a_user_file_with_a_group_name(make_templates, tmp_path):
    user = tmp_path / "enter.toml"
    user.write_text('[[template]]\nid = "mine"\n')
    with pytest.raises(SystemExit, match="not written by tools/make_templates.py"):
        make_templates.write_groups(tmp_path, {"enter": ["A"]})
    assert user.read_text() == '[[template]]\nid = "mine"\n'


def test_bundled_files_carry_the_marker(make_templates):
    for group in ("enter", "emphasis", "enter-exit", "sequence", "exit"):
        assert (ROOT / "templates" / f"{group}.toml").read_text(encoding="utf-8").startswith(make_templates.GENERATED)
