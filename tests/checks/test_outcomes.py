"""The outcome markers hold: what a test declares is what it asserted while it ran."""

from __future__ import annotations

from typing import Any

import pytest

from diagnostics.checks.cold_migration_ssh import cold_migration_ssh
from diagnostics.evaluate import evaluate
from diagnostics.model import Concluded, Inconclusive, RuledOut, Skipped
from diagnostics.plugins import bundled_check
from tests.checks import outcomes
from tests.checks.conftest import actions, event, records, server, src_logs, ssh_probe

ID = "nova.cold-migration-ssh"


def run(**kw: Any) -> Any:
    base = {"server": server(), "records": records(), "probe": None, "actions": None,
            "source_logs": None}  # fmt: skip
    return outcomes.outcome_of(cold_migration_ssh, **(base | kw))


def test_a_marker_without_its_assertion_and_an_assertion_without_its_marker_differ():
    """Marked concluded but asserted ruled out: both directions are named."""
    with outcomes.watching() as watch:
        outcomes.assert_rules_out(run(probe=ssh_probe()))
    why = watch.mismatch({(ID, "concluded")})
    assert why is not None
    assert f"marked outcome({ID!r}, 'concluded') but asserted no such result" in why
    assert f"asserted ruled_out of {ID} but is not marked" in why
    assert watch.mismatch({(ID, "ruled_out")}) is None


def test_the_asserted_kind_must_be_the_outcome():
    """assert_concludes of a RuledOut fails, and records nothing."""
    with outcomes.watching() as watch, pytest.raises(AssertionError):
        outcomes.assert_concludes(run(probe=ssh_probe()))
    assert watch.shown == set()


def test_only_outcomes_of_a_recorded_call_count():
    """An outcome built by hand is not a check's answer."""
    with outcomes.watching(), pytest.raises(AssertionError, match="outcome_of"):
        outcomes.assert_concludes(Concluded(facts={}))


def test_missing_evidence_needs_evidence_absent_and_never_rules_out():
    """Every parameter given is not a missing-evidence case; RuledOut is never one."""
    failed = "Host key verification failed."
    with outcomes.watching():
        everything = run(probe=ssh_probe(failed), actions=actions(event("x", failed)),
                         source_logs=src_logs(failed))  # fmt: skip
        with pytest.raises(AssertionError, match="every piece"):
            outcomes.assert_missing_evidence(everything, Concluded)
    with outcomes.watching() as watch:
        outcomes.assert_missing_evidence(run(probe=ssh_probe(failed)), Concluded)
        with pytest.raises(AssertionError):
            outcomes.assert_missing_evidence(run(), RuledOut)  # type: ignore[arg-type]
    assert watch.shown == {(ID, "missing_evidence")}


def test_a_skip_by_the_engine_is_missing_evidence():
    """evaluate() without the check's evidence gives Skipped, counted for its check."""
    with outcomes.watching() as watch:
        result = evaluate(bundled_check(ID), {})
        outcomes.assert_missing_evidence(result, Skipped)
        with pytest.raises(AssertionError):
            outcomes.assert_missing_evidence(result, Inconclusive)
    assert watch.shown == {(ID, "missing_evidence")}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        pytest.param(("nova.no-such-check", "concluded"), "names no check", id="id"),
        pytest.param((ID, "passed"), "is not one of", id="kind"),
        pytest.param(("concluded",), r"use outcome\(check_id, kind\)", id="arity"),
    ],
)
def test_a_malformed_marker_is_refused(item_with: Any, args: Any, error: str):
    """An unknown check id or kind, or a missing argument, fails the test."""
    with pytest.raises(ValueError, match=error):
        outcomes.marked(item_with(pytest.mark.outcome(*args)))


@pytest.fixture
def item_with() -> Any:
    """A stand-in for a collected item carrying one marker."""

    class Item:
        nodeid = "tests/checks/test_x.py::test_y"

        def __init__(self, mark: pytest.MarkDecorator) -> None:
            self.mark = mark.mark

        def iter_markers(self, name: str) -> list[pytest.Mark]:
            return [self.mark] if self.mark.name == name else []

    return Item
