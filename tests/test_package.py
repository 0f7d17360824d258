"""The package's shape, as a user and a reader rely on it: the engine wing stands alone (its import
graph has no arrow running back up into the rest of kinetype)."""

from __future__ import annotations

import ast
from pathlib import Path

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
