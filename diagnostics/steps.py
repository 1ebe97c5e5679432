"""Turn one runbook step's evidence and check results into a StepResult.

A step's status comes from its facts, never from the absence of a conclusion: anything
abnormal is ``warning`` (or ``failed``), evidence that could not be collected and checks
that could not check make it ``error``, and ``passed`` means every fact looked right.
Once the verdict is known, ``mark_roles`` marks the step holding the cause and step 1 as
the symptom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from diagnostics.evaluate import about_host
from diagnostics.evidence import types as ev
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.evidence_names import evidence_name, in_operator_words
from diagnostics.model import (
    CheckResult,
    Concluded,
    CouldNotCheck,
    Errored,
    Finding,
    MigrationSummary,
    Severity,
    Skipped,
    StepResult,
    StepRole,
    StepStatus,
)
from diagnostics.registry import CheckSpec
from diagnostics.step_facts import Step, cap_notes

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]


def could_not_check(
    planned: Sequence[type[Evidence]],
    got: EvidenceMap,
    results: Sequence[CheckResult],
    *,
    hosts: Sequence[str | None] = (),
    failed_dest: str | None = None,
) -> list[str]:
    """Why this step could not check something: missing evidence, probes that failed for
    their own reasons, checks that were skipped for lack of evidence or raised.

    Evidence is named as the operator knows it, with its host ("source host logs on
    cmp-a-01"); ``hosts`` is (source, destination or --target-host)."""
    source = hosts[0] if hosts else None
    dest = hosts[-1] if len(hosts) > 1 else None
    out = [
        f"could not check "
        f"{evidence_name(t, source=source, dest=dest, failed_dest=failed_dest)}: "
        f"{v.reason}"
        for t in planned
        if isinstance(v := got.get(t), Unavailable)
    ]
    for r in results:
        o = r.outcome
        if isinstance(o, CouldNotCheck):
            out.append(f"{r.title}: {o.reason}")
        elif isinstance(o, Skipped) and o.missing:
            why = in_operator_words(
                o.reason, source=source, dest=dest, failed_dest=failed_dest
            )
            out.append(f"{r.title}: could not check ({why})")
        elif isinstance(o, Errored):
            out.append(f"check {r.check_id} failed: {o.error}")
    return list(dict.fromkeys(out))


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
    """Status rules, strongest first: a concluded ERROR check, the failed migration
    (step 1) or a failed event (step 3) fail the step; a WARNING conclusion warns;
    anything that could not be checked makes it ``error``; any abnormal fact warns;
    nothing planned -> skipped; else passed. Abnormal facts are always in the findings."""
    step = Step(number)
    if skip_reason is not None:
        return StepResult(
            number=step,
            title=step.title,
            status=StepStatus.SKIPPED,
            summary=skip_reason,
        )
    facts = step.describe(got, migration, hosts)
    concluded = [r for r in results if isinstance(r.outcome, Concluded)]
    failed_dest = migration.dest_host if migration is not None else None
    missing = [
        *could_not_check(planned, got, results, hosts=hosts, failed_dest=failed_dest),
        *facts.could_not_check,
    ]
    # under --target-host H the target steps describe H: a conclusion about the failed
    # move's destination is listed, and does not fail or warn H's step
    past = _about_failed_dest(step, concluded, hosts, failed_dest)
    judged = [r for r in concluded if r not in past]
    failed = [r for r in judged if specs[r.check_id].severity is Severity.ERROR]
    symptom = (
        step is Step.VM_STATUS and migration is not None and migration.failed
    ) or (step is Step.EVENTS and _has_failed_event(got))
    findings = [specs[r.check_id].title for r in concluded]
    findings += [a for a in facts.abnormal if a not in findings]
    if failed:
        status = StepStatus.FAILED
        summary = "; ".join(specs[r.check_id].title for r in failed)
    elif symptom:
        status, summary = StepStatus.FAILED, facts.summary
    elif judged:
        status = StepStatus.WARNING
        summary = "; ".join(findings)
    elif missing:
        # what could not be checked is said first; what was abnormal is in the findings
        status, summary = StepStatus.ERROR, "; ".join(missing)
    elif facts.abnormal:
        status, summary = StepStatus.WARNING, facts.summary
    elif not planned and not results:
        status, summary = StepStatus.SKIPPED, "nothing to check for this migration kind"
    else:
        status, summary = StepStatus.PASSED, facts.summary
    if status is not StepStatus.ERROR:
        findings += missing
    if status is not StepStatus.PASSED:  # a passed step's summary already says it
        findings += cap_notes(number, got)
    return StepResult(
        number=step,
        title=step.title,
        status=status,
        summary=summary,
        findings=tuple(dict.fromkeys(findings)),
        duration_ms=duration_ms,
    )


def _has_failed_event(got: EvidenceMap) -> bool:
    actions = got.get(ev.InstanceActions)
    return (
        isinstance(actions, ev.InstanceActions)
        and actions.migration_action is not None
        and bool(actions.migration_action.failed_events)
    )


def mark_roles(
    steps: Sequence[StepResult],
    primary: Finding | None,
    primary_step: int | None,
    migration: MigrationSummary | None,
    cited_sources: frozenset[str] = frozenset(),
    target_host: str | None = None,
) -> tuple[StepResult, ...]:
    """Mark the cause step (failed, with the finding) and step 1 as the symptom.

    With ``target_host`` the target steps (5-7) describe that host: a cause about
    another host (the failed move's destination) is named in the step, whose status
    stays the target's own.

    ``cited_sources`` are the citation sources of the primary finding: a step whose own
    evidence holds them (the log lines that prove the cause) is failed, never passed.
    """
    out = []
    elsewhere = _cause_elsewhere(primary, target_host)
    for step in steps:
        if (
            primary is not None
            and elsewhere
            and step.number == primary_step
            and step.number in _TARGET_STEPS
        ):
            # steps 5-7 evaluate the --target-host; a cause on the failed move's
            # destination is not a failure of the target's check
            title = cause_line(primary, target_host)
            rest = (f for f in step.findings if f != primary.title)
            step = replace(
                step,
                role=StepRole.CAUSE,
                findings=tuple(dict.fromkeys((title, *rest))),
            )
        elif primary is not None and step.number == primary_step:
            title = cause_line(primary)
            rest = (f for f in step.findings if f != primary.title)
            step = replace(
                step,
                role=StepRole.CAUSE,
                status=StepStatus.FAILED,
                summary=step.summary if step.status is StepStatus.FAILED else title,
                findings=tuple(dict.fromkeys((title, *rest))),
            )
        elif (
            step.number == Step.VM_STATUS
            and migration is not None
            and (migration.failed or primary is not None)
        ):
            step = replace(step, role=StepRole.SYMPTOM)
        elif primary is not None and step.number in _steps_citing(cited_sources, step):
            note = "holds the evidence of the root cause"
            step = replace(
                step,
                status=StepStatus.FAILED,
                findings=tuple(dict.fromkeys((*step.findings, note))),
            )
        out.append(step)
    return tuple(out)


def _about_failed_dest(
    step: Step,
    concluded: Sequence[CheckResult],
    hosts: Sequence[str | None],
    failed_dest: str | None,
) -> list[CheckResult]:
    """The conclusions of a target step that are about the failed move's destination,
    when the step evaluates another host (the --target-host)."""
    target = hosts[1] if len(hosts) > 1 else None
    if (
        step not in _TARGET_STEPS
        or failed_dest is None
        or target in (None, failed_dest)
    ):
        return []
    return [
        r
        for r in concluded
        if isinstance(r.outcome, Concluded)
        and about_host(r.outcome.facts) == failed_dest
    ]


def cause_line(primary: Finding, target_host: str | None = None) -> str:
    """The line the cause step lists for the primary finding."""
    elsewhere = _cause_elsewhere(primary, target_host)
    if elsewhere is None:
        return f"root cause: {primary.title}"
    return (
        f"root cause, on {elsewhere} (the failed move's destination, not the"
        f" target {target_host}): {primary.title}"
    )


_TARGET_STEPS = frozenset({Step.CAPACITY, Step.ZONES, Step.PROBES})


def _cause_elsewhere(primary: Finding | None, target_host: str | None) -> str | None:
    """The host a primary finding is about when that is not the --target-host."""
    if primary is None or target_host is None or primary.about_host is None:
        return None
    return primary.about_host if primary.about_host != target_host else None


def _steps_citing(cited: frozenset[str], step: StepResult) -> set[int]:
    # host log lines are cited as host:path:lineno; only step 8 holds those
    if step.number == Step.LOGS and any(_is_log_position(s) for s in cited):
        return {int(Step.LOGS)}
    return set()


def _is_log_position(source: str) -> bool:
    parts = source.rsplit(":", 2)
    return len(parts) == 3 and parts[2].isdigit() and parts[1].startswith("/")
