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

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]


def _services_line(services: ev.ComputeServices, hosts: Sequence[str | None]) -> str:
    parts = []
    for host in dict.fromkeys(h for h in hosts if h):
        svc = services.on(host)
        if svc is None:
            parts.append(f"{host}: no nova-compute service")
        else:
            forced = ", forced down" if svc.forced_down else ""
            parts.append(f"{host}: {svc.state}/{svc.status}{forced}")
    return "nova-compute " + "; ".join(parts) if parts else "no hosts to check"


def _facts(
    number: int,
    got: EvidenceMap,
    migration: MigrationSummary | None,
    hosts: Sequence[str | None],
) -> str:
    """A neutral description of what the step looked at (used when nothing concluded)."""
    server = got.get(ev.Server)
    if number == 1 and isinstance(server, ev.Server):
        where = f"{server.name} is {server.status} on {server.host or 'unknown host'}"
        if migration is None:
            return where + "; no migration record found"
        route = f"{migration.source_host or '?'} → {migration.dest_host or '(not scheduled)'}"
        return f"{where}; migration {migration.id} ({migration.kind.value}) {route}: {migration.status}"
    services = got.get(ev.ComputeServices)
    if number == 2 and isinstance(services, ev.ComputeServices):
        return _services_line(services, hosts)
    actions = got.get(ev.InstanceActions)
    if number == 3 and isinstance(actions, ev.InstanceActions):
        action = actions.migration_action
        if action is None:
            return f"{len(actions.actions)} actions; none matches the migration"
        failed = action.failed_events
        state = f"failed at {failed[0].event}" if failed else "every event Success"
        return f"{action.action} {action.request_id}: {state}"
    mgmt = got.get(ev.ManagementPlane)
    if number == 4 and isinstance(mgmt, ev.ManagementPlane):
        ready = sum(1 for p in mgmt.pods if p.ready)
        return f"{ready}/{len(mgmt.pods)} pods ready; {len(mgmt.logs.lines)} log lines for the request"
    logs = [v for k, v in got.items() if k.STEP == 8 and isinstance(v, ev.HostLogs)]
    if number == 8 and logs:
        return "; ".join(f"{log.host}: {len(log.lines)} lines" for log in logs)
    collected = [
        k.__name__
        for k, v in got.items()
        if number == k.STEP and isinstance(v, Evidence)
    ]
    return (
        "checked " + ", ".join(sorted(collected)) if collected else "nothing to check"
    )


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
    elif (number == 1 and migration is not None and migration.failed) or (number == 3 and _has_failed_event(got)):
        status, summary = StepStatus.FAILED, _facts(number, got, migration, hosts)
    elif concluded:
        status, summary = StepStatus.WARNING, "; ".join(findings)
    elif errors:
        status, summary = StepStatus.ERROR, "could not collect: " + "; ".join(errors)
    elif not planned and not results:
        status, summary = StepStatus.SKIPPED, "nothing to check for this migration kind"
    else:
        status, summary = StepStatus.PASSED, _facts(number, got, migration, hosts)
    if errors and status in (StepStatus.FAILED, StepStatus.WARNING):
        findings += tuple(f"could not collect {e}" for e in errors)
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
