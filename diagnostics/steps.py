"""Turn one runbook step's evidence and check results into a StepResult with a one-line summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnostics.evidence import types as ev
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import (
    CheckResult,
    Concluded,
    Errored,
    MigrationSummary,
    Severity,
    StepResult,
    StepStatus,
)
from diagnostics.registry import STEP_TITLES, CheckSpec
from diagnostics.step_facts import cap_notes, describe_step

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]


def build_step(
    number: int,
    *,
    planned: Sequence[type[Evidence]],
    got: EvidenceMap,
    results: Sequence[CheckResult],
    specs: Mapping[str, CheckSpec],
    migration: MigrationSummary | None,
    hosts: Sequence[str | None],
    duration_ms: int,
    skip_reason: str | None = None,
) -> StepResult:
    """Status rules: a concluded ERROR check fails the step, a WARNING warns; evidence that
    could not be collected makes it ``error`` (never "passed"); nothing planned -> skipped."""
    title = STEP_TITLES[number]
    if skip_reason is not None:
        return StepResult(
            number=number, title=title, status=StepStatus.SKIPPED, summary=skip_reason
        )
    concluded = [r for r in results if isinstance(r.outcome, Concluded)]
    errors = [
        f"{t.__name__}: {v.reason}"
        for t in planned
        if isinstance(v := got.get(t), Unavailable)
    ]
    errors += [
        f"check {r.check_id} failed: {r.outcome.error}"
        for r in results
        if isinstance(r.outcome, Errored)
    ]
    findings = tuple(f"{specs[r.check_id].title}" for r in concluded)
    failed = [r for r in concluded if specs[r.check_id].severity is Severity.ERROR]
    if failed:
        status, summary = (
            StepStatus.FAILED,
            "; ".join(specs[r.check_id].title for r in failed),
        )
    elif (number == 1 and migration is not None and migration.failed) or (
        number == 3 and _has_failed_event(got)
    ):
        status, summary = (
            StepStatus.FAILED,
            describe_step(number, got, migration, hosts),
        )
    elif concluded:
        status, summary = StepStatus.WARNING, "; ".join(findings)
    elif errors:
        status, summary = StepStatus.ERROR, "could not collect: " + "; ".join(errors)
    elif not planned and not results:
        status, summary = StepStatus.SKIPPED, "nothing to check for this migration kind"
    else:
        status, summary = (
            StepStatus.PASSED,
            describe_step(number, got, migration, hosts),
        )
    if errors and status in (StepStatus.FAILED, StepStatus.WARNING):
        findings += tuple(f"could not collect {e}" for e in errors)
    if status is not StepStatus.PASSED:  # a passed step's summary already says it
        findings += cap_notes(number, got)
    return StepResult(
        number=number,
        title=title,
        status=status,
        summary=summary,
        findings=findings,
        duration_ms=duration_ms,
    )


def _has_failed_event(got: EvidenceMap) -> bool:
    actions = got.get(ev.InstanceActions)
    return (
        isinstance(actions, ev.InstanceActions)
        and actions.migration_action is not None
        and bool(actions.migration_action.failed_events)
    )
