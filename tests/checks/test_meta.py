"""Registry meta-tests: every check has full metadata and its own tests."""

from __future__ import annotations

import ast
import inspect
import re
import string
from pathlib import Path

import pytest

from diagnostics.model import RootCauseId
from diagnostics.plugins import bundled_checks
from diagnostics.registry import CheckSpec

CHECKS = bundled_checks()
HERE = Path(__file__).parent
_ID = re.compile(r"^[a-z0-9]+(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+$")


def _module_name(spec: CheckSpec) -> str:
    return spec.id.rsplit(".", 1)[-1].replace("-", "_")


def _fields(template: str) -> set[str]:
    return {
        name for _, name, _, _ in string.Formatter().parse(template) if name is not None
    }


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s.id)
def test_metadata_is_complete(spec: CheckSpec) -> None:
    """Id, title, kinds, root cause, templates, docstring and references are present."""
    assert _ID.match(spec.id), spec.id
    assert spec.title
    assert spec.applies_to
    assert spec.summary
    assert spec.remediation
    assert spec.root_cause is not RootCauseId.UNKNOWN
    assert len(inspect.getdoc(spec.fn) or "") > 80
    assert spec.references, f"{spec.id} cites no source"
    assert all(ref.startswith("https://") for ref in spec.references)


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s.id)
def test_module_and_function_are_named_after_the_id(spec: CheckSpec) -> None:
    """nova.dest-disk-exists lives in checks/dest_disk_exists.py::dest_disk_exists."""
    name = _module_name(spec)
    assert spec.fn.__module__ == f"diagnostics.checks.{name}"
    assert spec.fn.__name__ == name


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s.id)
def test_templates_are_valid_format_strings(spec: CheckSpec) -> None:
    """Placeholders are plain identifiers, and no Slack markup slips in."""
    steps = [(s.command or "", s.why, s.on.name or "") for s in spec.remediation]
    for template in (spec.summary, *(t for step in steps for t in step)):
        for name in _fields(template):
            assert name.isidentifier(), f"{spec.id}: bad placeholder {name!r}"
        assert "*" not in template.replace("*.", "")
        assert "<http" not in template


def test_ids_are_unique() -> None:
    """No two checks share an id."""
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))


def test_every_root_cause_has_a_check() -> None:
    """Every public root-cause id except unknown is concluded by some check."""
    covered = {c.root_cause for c in CHECKS}
    assert set(RootCauseId) - {RootCauseId.UNKNOWN} <= covered


def _test_sources(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    text = path.read_text()
    return [
        ast.get_source_segment(text, node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s.id)
def test_every_check_has_positive_and_negative_tests(spec: CheckSpec) -> None:
    """test_<module>.py names the check id and has a Concluded and a RuledOut test."""
    path = HERE / f"test_{_module_name(spec)}.py"
    assert path.exists(), f"{spec.id} has no {path.name}"
    assert f'"{spec.id}"' in path.read_text(), f"{path.name} does not name {spec.id}"
    tests = _test_sources(path)
    assert any("Concluded" in src for src in tests), f"{spec.id}: no Concluded test"
    assert any("RuledOut" in src for src in tests), f"{spec.id}: no RuledOut test"
    assert all(ast.get_docstring(ast.parse(src).body[0]) for src in tests)
