"""A package that installs like any other: a built wheel holds everything kinetype needs (templates,
fonts with their licence texts, the bundled model), so an installed copy runs from any folder with
no checkout beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import kinetype

PACKAGE = Path(kinetype.__file__).parent
REPO = PACKAGE.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """kinetype built into a wheel from a copy of the package (nothing of the checkout beside it) and
    installed into a folder of its own; returns (wheel, install folder)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(PACKAGE, src / "kinetype", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(src)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("kinetype-*.whl")
    target = root / "site"
    done = subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return wheel, target


def test_the_wheel_carries_templates_fonts_with_their_licences_and_the_model(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"kinetype/assets/templates/{p.name}" for p in (PACKAGE / "assets" / "templates").glob("*.toml")} <= names
    assert "kinetype/assets/fonts/fonts.toml" in names and "kinetype/assets/fonts/README.md" in names
    licences = {n.split("/")[3] for n in names if n.startswith("kinetype/assets/fonts/") and n.rsplit("/", 1)[-1].startswith(("OFL", "LICENSE"))}
    families = {p.name for p in (PACKAGE / "assets" / "fonts").iterdir() if p.is_dir()}
    assert families and families == licences, families ^ licences
    assert any(n.startswith("kinetype/assets/model/denoiser/") and n.endswith(".safetensors") for n in names)


def test_an_installed_kinetype_renders_and_generates_from_an_empty_folder(installed, tmp_path):
    _, target = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KINETYPE_FONTS")}
    env |= {"PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    where = subprocess.run([sys.executable, "-c", "import kinetype; print(kinetype.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert Path(where.stdout.strip()).is_relative_to(target), where  # the installed copy, not the checkout
    kinetype_script = [str(target / "bin" / "kinetype")]
    preview = subprocess.run([*kinetype_script, "preview", "drop-bounce-in-ltr", "--word", "Hi", "--out", "hi.gif"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert preview.returncode == 0, preview.stderr
    made = subprocess.run([*kinetype_script, "generate", "HELLO", "--motion", "bounce in", "--steps", "2", "--out", "hello.mp4"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "hi.gif").stat().st_size > 0 and (tmp_path / "hello.mp4").stat().st_size > 0
