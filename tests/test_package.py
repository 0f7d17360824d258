"""The package's shape, as a user and a reader rely on it: the engine wing stands alone (its import
graph has no arrow running back up into the rest of kinetype), and a built wheel holds everything
kinetype needs, so an installed copy runs from any folder with no checkout beside it."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import kinetype

PACKAGE = Path(kinetype.__file__).parent


def kinetype_imports(path: Path) -> set[str]:
    """Every ``kinetype...`` module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kinetype":
                found |= {f"kinetype.{a.name}" for a in node.names}
            elif node.module.startswith("kinetype."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kinetype.")}
    return found


def test_the_engine_wing_imports_nothing_of_kinetype_but_itself_and_the_error_types():
    outside = {f"{path.name}: {module}" for path in (PACKAGE / "render").glob("*.py")
               for module in kinetype_imports(path)
               if not module.startswith("kinetype.render") and module != "kinetype.errors"}
    assert not outside, sorted(outside)


def test_the_error_types_are_a_leaf():
    assert not kinetype_imports(PACKAGE / "errors.py")


def test_no_library_module_imports_the_cli():
    library = [p for p in PACKAGE.rglob("*.py") if p.name not in ("cli.py", "cli_errors.py", "__main__.py")]
    culprits = {f"{p.relative_to(PACKAGE)}: {m}" for p in library for m in kinetype_imports(p)
                if m in ("kinetype.cli", "kinetype.cli_errors")}
    assert not culprits, sorted(culprits)


def test_the_dataset_writer_and_eval_do_not_depend_on_each_other():
    shards = {m for p in (PACKAGE / "shards").glob("*.py") for m in kinetype_imports(p)}
    evals = {m for p in (PACKAGE / "eval").glob("*.py") for m in kinetype_imports(p)}
    assert not {m for m in shards if m.startswith("kinetype.eval")}, shards
    assert not {m for m in evals if m.startswith("kinetype.shards")}, evals


# --- a package that installs like any other ---------------------------------------------------------


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
