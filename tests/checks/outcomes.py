"""What a check test shows, declared and then proved while it runs.

A check test declares the outcome it shows with a marker::

    @pytest.mark.outcome("nova.cold-migration-ssh", "concluded")

and shows it through the helpers here: the check runs through ``outcome_of`` (which
records which evidence was absent), and the result is asserted with ``assert_concludes``,
``assert_rules_out`` or ``assert_missing_evidence``. ``tests/checks/conftest.py`` fails a
test whose markers and assertions differ, in either direction; ``test_meta.py`` collects
the markers and fails for a check without all three outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from diagnostics.model import (
    CheckOutcome,
    CheckResult,
    Concluded,
    CouldNotCheck,
    Inconclusive,
    RuledOut,
    Skipped,
)
from diagnostics.plugins import bundled_checks
from diagnostics.registry import CheckSpec

CONCLUDED, RULED_OUT, MISSING_EVIDENCE = "concluded", "ruled_out", "missing_evidence"
KINDS = (CONCLUDED, RULED_OUT, MISSING_EVIDENCE)
Shown = tuple[str, str]  # (check id, kind)

_SPECS: dict[Callable[..., Any], CheckSpec] = {s.fn: s for s in bundled_checks()}
_IDS = {s.id for s in _SPECS.values()}
Out = TypeVar("Out", bound=CheckOutcome)


@dataclass
class _Call:
    check_id: str
    absent: tuple[str, ...]  # evidence parameters given None or left out
    outcome: CheckOutcome  # held, so its id() is not reused while the test runs


@dataclass
class Watch:
    """One test's check calls and the outcomes it asserted."""

    calls: dict[int, _Call] = field(default_factory=dict)
    shown: set[Shown] = field(default_factory=set)

    def mismatch(self, marked: set[Shown]) -> str | None:
        """Why the markers and the assertions differ, or None."""
        lines = [
            f"marked outcome({cid!r}, {kind!r}) but asserted no such result of it "
            "(through assert_concludes / assert_rules_out / assert_missing_evidence)"
            for cid, kind in sorted(marked - self.shown)
        ] + [
            f"asserted {kind} of {cid} but is not marked "
            f"@pytest.mark.outcome({cid!r}, {kind!r})"
            for cid, kind in sorted(self.shown - marked)
        ]
        return "\n".join(lines) or None


_watch: Watch | None = None


@contextmanager
def watching() -> Iterator[Watch]:
    """Record what the test running inside shows."""
    global _watch
    _watch, previous = Watch(), _watch
    try:
        yield _watch
    finally:
        _watch = previous


def marked(item: pytest.Item) -> set[Shown]:
    """The outcomes a collected test declares; a malformed marker raises ValueError."""
    found: set[Shown] = set()
    for mark in item.iter_markers("outcome"):
        if len(mark.args) != 2 or mark.kwargs:
            raise ValueError(f"{item.nodeid}: use outcome(check_id, kind), not {mark}")
        check_id, kind = mark.args
        if check_id not in _IDS:
            raise ValueError(f"{item.nodeid}: outcome names no check {check_id!r}")
        if kind not in KINDS:
            raise ValueError(
                f"{item.nodeid}: outcome kind {kind!r} is not one of {KINDS}"
            )
        found.add((check_id, kind))
    return found


def _current() -> Watch:
    assert _watch is not None, "outcome helpers are for tests under tests/checks"
    return _watch


def outcome_of(fn: Callable[..., CheckOutcome], /, **evidence: Any) -> CheckOutcome:
    """Run the check ``fn`` on ``evidence`` (as the engine would) and record the call."""
    spec = _SPECS[fn]
    absent = tuple(p.name for p in spec.params if evidence.get(p.name) is None)
    outcome = fn(**evidence)
    _current().calls[id(outcome)] = _Call(spec.id, absent, outcome)
    return outcome


def _call_of(outcome: CheckOutcome) -> _Call:
    call = _current().calls.get(id(outcome))
    assert call is not None, f"{outcome!r} did not come from outcome_of(check, ...)"
    return call


def assert_concludes(outcome: CheckOutcome) -> Concluded:
    """The check concluded; returns the conclusion."""
    assert isinstance(outcome, Concluded), outcome
    _current().shown.add((_call_of(outcome).check_id, CONCLUDED))
    return outcome


def assert_rules_out(outcome: CheckOutcome) -> RuledOut:
    """The check looked and ruled its cause out (a near miss)."""
    assert isinstance(outcome, RuledOut), outcome
    _current().shown.add((_call_of(outcome).check_id, RULED_OUT))
    return outcome


def assert_missing_evidence(
    outcome: CheckOutcome | CheckResult, expected: type[Out]
) -> Out:
    """With evidence absent, the check answered ``expected`` (never RuledOut: what was
    not looked at is not a pass).

    ``outcome`` is a check's answer from ``outcome_of`` with at least one evidence
    parameter absent, or the engine's ``CheckResult`` from ``evaluate`` (then ``Skipped``).
    """
    assert expected in (Concluded, Inconclusive, CouldNotCheck, Skipped), expected
    if isinstance(outcome, CheckResult):
        assert expected is Skipped, "evaluate() without the evidence skips the check"
        assert isinstance(outcome.outcome, Skipped), outcome.outcome
        assert outcome.outcome.missing, outcome.outcome
        _current().shown.add((outcome.check_id, MISSING_EVIDENCE))
        return outcome.outcome  # type: ignore[return-value]
    assert isinstance(outcome, expected), outcome
    call = _call_of(outcome)
    assert call.absent, f"{call.check_id} was given every piece of evidence"
    _current().shown.add((call.check_id, MISSING_EVIDENCE))
    return outcome
