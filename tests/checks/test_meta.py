"""Registry meta-tests: every check has full metadata and its own tests.

Which outcomes a check's tests show is read from pytest's own collection of tests/checks
(their ``outcome`` markers), not from their source; the markers are held true at run time
by ``tests/checks/conftest.py`` (see ``tests/checks/outcomes.py``).
"""

from __future__ import annotations

import inspect
import re
import string
from pathlib import Path

import pytest

from diagnostics.model import RootCauseId
from diagnostics.plugins import bundled_checks
from diagnostics.registry import CheckSpec
from tests.checks import outcomes

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


class _Collected:
    """A pytest plugin keeping what a --collect-only session collected."""

    def __init__(self) -> None:
        self.items: list[pytest.Item] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)


@pytest.fixture(scope="module")
def check_tests() -> list[pytest.Item]:
    """The items pytest itself collects under tests/checks (in this process)."""
    collected = _Collected()
    code = pytest.main(
        ["--collect-only", "-qq", "-p", "no:cacheprovider", str(HERE)],
        plugins=[collected],
    )
    assert code == pytest.ExitCode.OK, "collecting tests/checks failed"
    return collected.items


@pytest.fixture(scope="module")
def shown(check_tests: list[pytest.Item]) -> dict[str, dict[str, list[str]]]:
    """check id -> kind -> the test ids marked as showing it."""
    found: dict[str, dict[str, list[str]]] = {}
    for item in check_tests:
        for check_id, kind in outcomes.marked(item):
            found.setdefault(check_id, {}).setdefault(kind, []).append(item.nodeid)
    return found


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s.id)
def test_every_check_is_concluded_ruled_out_and_missing_evidence(
    spec: CheckSpec, shown: dict[str, dict[str, list[str]]]
) -> None:
    """Some collected test of each check is marked (and at run time asserts) each of
    concluded, ruled out (a near miss) and missing evidence."""
    missing = [kind for kind in outcomes.KINDS if kind not in shown.get(spec.id, {})]
    assert not missing, (
        f"{spec.id}: no test marked @pytest.mark.outcome({spec.id!r}, kind) for "
        + ", ".join(missing)
    )


def test_every_check_test_states_its_behaviour(check_tests: list[pytest.Item]) -> None:
    """Every collected test under tests/checks has a one-line docstring."""
    bare = [
        item.nodeid
        for item in check_tests
        if isinstance(item, pytest.Function) and not inspect.getdoc(item.function)
    ]
    assert not bare, bare


def test_the_collected_markers_are_the_check_tests(
    check_tests: list[pytest.Item],
) -> None:
    """The meta-test reads the real collection: it sees the marked tests and itself."""
    ids = {item.nodeid.split("::")[-1] for item in check_tests}
    assert (
        "test_every_check_is_concluded_ruled_out_and_missing_evidence["
        + (CHECKS[0].id + "]")
        in ids
    )
    assert sum(1 for item in check_tests if outcomes.marked(item)) > len(CHECKS) * 3
