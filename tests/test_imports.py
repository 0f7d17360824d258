"""The package's import graph has no cycles, counting imports inside functions too.

An import tucked into a function to dodge a cycle hides it; the cycle is still there for a reader
following the code. Edges go from a module to the module it names (``from kinetype.x import y``
names ``kinetype.x.y`` when that is a module, else ``kinetype.x``); a package's ``__init__`` is the
package itself. The engine wing (``kinetype/render/``) never imports torch and imports nothing of
kinetype but itself, the error types and the file helpers (``kinetype.fsutil``, whose one import of
kinetype is the error types: every reader of a user's file checks it there); no library module
imports the CLI; the dataset writer and eval do not depend on each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kinetype

ROOT = Path(kinetype.__file__).parent


def module_names() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("kinetype", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # kinetype.x.y.Class -> kinetype.x.y
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("kinetype"):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None; iterative DFS with colours."""
    colour = dict.fromkeys(graph, 0)  # 0 unseen, 1 on the stack, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour[child] == 1:
                path = [n for n, _ in stack]
                return path[path.index(child):] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50 and graph["kinetype.cli"], "the graph should see the package"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_render_side_never_imports_torch():
    for path in (ROOT / "render").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "torch" for n in names), f"{path} imports torch"


def test_the_engine_wing_imports_nothing_of_kinetype_but_itself_the_error_types_and_the_file_helpers():
    graph = import_graph()
    allowed = {"kinetype.errors", "kinetype.fsutil"}
    outside = {f"{name} -> {target}" for name, targets in graph.items() if name.startswith("kinetype.render")
               for target in targets if not target.startswith("kinetype.render") and target not in allowed}
    assert not outside, sorted(outside)
    assert graph["kinetype.fsutil"] <= {"kinetype.errors"}, "the file helpers stay a leaf the engine may import"


def test_the_error_types_are_a_leaf():
    assert not import_graph()["kinetype.errors"]


def test_no_library_module_imports_the_cli():
    cli = {"kinetype.cli", "kinetype.cli_errors", "kinetype.__main__"}
    culprits = {f"{name} -> {target}" for name, targets in import_graph().items() if name not in cli
                for target in targets & cli}
    assert not culprits, sorted(culprits)


def test_the_dataset_writer_and_eval_do_not_depend_on_each_other():
    graph = import_graph()
    crossing = {f"{name} -> {target}" for name, targets in graph.items() for target in targets
                if (name.startswith("kinetype.shards") and target.startswith("kinetype.eval"))
                or (name.startswith("kinetype.eval") and target.startswith("kinetype.shards"))}
    assert not crossing, sorted(crossing)
