"""The bot's layering: no import cycles, and each package imports only what it may."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"


def _module(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (local imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = {_module(p): p for p in BOT.rglob("*.py")}
GRAPH = {
    name: {other for other in _imports(path) if other in MODULES and other != name}
    for name, path in MODULES.items()
}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_bot_has_no_import_cycles() -> None:
    """No module of bot/ reaches itself through its imports (local imports count)."""
    assert _cycles() == []


def test_a_cycle_would_be_found() -> None:
    """The cycle finder sees a planted cycle (so the test above can fail)."""
    GRAPH["bot.store.repo"].add("bot.cases.manager")
    try:
        assert any("bot.store.repo" in c for c in _cycles())
    finally:
        GRAPH["bot.store.repo"].discard("bot.cases.manager")


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # the store is SQL only: it knows no rules, sources, Slack or listeners
        (
            "bot.store",
            ("bot.cases", "bot.intake", "bot.posting", "bot.commands", "bot.actions"),
        ),
        # cases are the rules: never Slack, never a particular source
        (
            "bot.cases",
            ("bot.intake", "bot.posting", "bot.commands", "bot.actions", "slack_"),
        ),
        # sources hand reports to cases; they do not post
        ("bot.intake", ("bot.posting", "bot.commands", "bot.actions", "slack_")),
        # the Slack side posts; it does not run the case runner or the sources
        ("bot.posting", ("bot.cases", "bot.intake", "bot.commands", "bot.actions")),
    ],
)
def test_package_imports_only_what_it_may(
    package: str, forbidden: tuple[str, ...]
) -> None:
    """Each package of bot/ keeps to its layer."""
    offending = sorted(
        f"{name} imports {other}"
        for name, path in MODULES.items()
        if name == package or name.startswith(package + ".")
        for other in _imports(path)
        if other.startswith(forbidden)
    )
    assert offending == []
