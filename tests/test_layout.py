"""The shape of the code: imports go one way between packages, and no module imports itself back.

    api ─► training ─► searcher ─► indexer ─► core

Every import counts, including those inside functions and under TYPE_CHECKING: a cycle hidden in a
function is still two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("core", "indexer", "searcher", "training", "api")
# What each package may import besides itself (and the standard library and third-party packages).
ALLOWED = {
    "core": set(),
    "indexer": {"core"},
    "searcher": {"core", "indexer"},
    "training": {"core", "indexer", "searcher"},
    "api": {"core", "indexer", "searcher", "training"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules a module imports (`from pkg import submodule` counts as the submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target in imports(path, known) if target in known} for name, path in known.items()}


def test_packages_import_only_the_layers_below_them() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if target.split(".")[0] != source.split(".")[0] and target.split(".")[0] not in ALLOWED[source.split(".")[0]]
    ]
    assert wrong == []


def test_no_module_imports_itself_back() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_checker_sees_a_cycle(tmp_path: Path) -> None:
    """The two tests above can fail: a module pair that imports each other is found."""
    (tmp_path / "a.py").write_text("from indexer import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from indexer import a\n")
    known = {"indexer.a": tmp_path / "a.py", "indexer.b": tmp_path / "b.py"}
    assert imports(known["indexer.a"], known) == {"indexer.b"}
    assert imports(known["indexer.b"], known) == {"indexer.a"}
