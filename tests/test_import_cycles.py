"""No import cycles: the module graph of the project's packages, read statically, is acyclic.

Every import statement counts wherever it stands (a function-local import that only
hides a cycle from Python is still a cycle), except those under ``if TYPE_CHECKING:``,
which never run. ``from pkg import name`` depends on ``pkg.name`` when that is a module,
else on ``pkg``; importing a submodule is not counted as depending on its parent
packages' ``__init__`` (the usual convention of import linters).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The packages held to it. Each must stay acyclic; a package joins once it is.
COVERED = ("diagnostics", "bot", "sim")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def module_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the project modules it imports (only modules of ``packages``)."""
    files = {
        _module_name(p): p
        for pkg in packages
        for p in sorted((ROOT / pkg).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(name, path.name == "__init__.py", node)
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                    for a in node.names
                ]
            for target in targets:
                # `import a.b.c` runs a.b.c: depend on the longest known prefix
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _path_through(graph: dict[str, set[str]], component: list[str]) -> str:
    """One concrete loop inside a component, for the failure message."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & members)
        step = next((n for n in nxt if n == start), None) or next(
            (n for n in nxt if n not in seen), nxt[0]
        )
        path.append(step)
        if step in seen:
            return " -> ".join(path[path.index(step) :])
        seen.add(step)


@pytest.mark.parametrize("package", COVERED)
def test_no_import_cycles(package: str) -> None:
    """The package's modules (and what of the covered packages they import) form no cycle."""
    graph = module_graph(COVERED)
    loops = [c for c in cycles(graph) if any(m.split(".")[0] == package for m in c)]
    assert not loops, "import cycles:\n" + "\n".join(
        _path_through(graph, c) for c in loops
    )


def test_the_detector_finds_a_cycle_hidden_in_a_function() -> None:
    """A local import that closes a loop is reported; a TYPE_CHECKING one is not."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert _path_through(graph, ["a", "b", "c"]) == "a -> b -> c -> a"
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import x.hidden\n"
        "def f():\n    import x.local\n"
    )
    names = [n.names[0].name for n in _imports(tree) if isinstance(n, ast.Import)]
    assert names == ["x.local"]
