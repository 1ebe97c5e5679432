"""Diagnosis <-> JSON, exactly the contract of shared/root-causes.md (``schema_version: 1``).

Stable and versioned: keys sorted, ids and enums as their string values. ``from_dict``
reads it back (the bot stores runs as this JSON and re-renders them after a restart).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from diagnostics.model import (
    CheckResult,
    Citation,
    Concluded,
    Confidence,
    Diagnosis,
    Errored,
    Finding,
    Inconclusive,
    MigrationKind,
    MigrationSummary,
    Outcome,
    RootCauseId,
    RuledOut,
    Severity,
    Skipped,
    StepResult,
    StepStatus,
    VmSummary,
)
from diagnostics.report import timing

SCHEMA_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "id": f.root_cause.value,
        "check": f.check_id,
        "title": f.title,
        "confidence": f.confidence.value,
        "severity": f.severity.value,
        "summary": f.summary,
        "evidence": [{"source": c.source, "text": c.text} for c in f.evidence],
        "remediation": list(f.remediation),
        "references": list(f.references),
    }


def _outcome(o: Outcome) -> dict[str, Any]:
    if isinstance(o, Concluded):
        return {
            "status": "concluded",
            "confidence": o.confidence.value,
            "facts": dict(o.facts),
        }
    if isinstance(o, RuledOut):
        return {"status": "ruled_out", "reason": o.reason}
    if isinstance(o, Inconclusive):
        return {"status": "inconclusive", "reason": o.reason}
    if isinstance(o, Skipped):
        return {"status": "skipped", "reason": o.reason}
    return {"status": "errored", "reason": o.error}


def to_dict(d: Diagnosis) -> dict[str, Any]:
    m = d.migration
    return {
        "schema_version": SCHEMA_VERSION,
        "id": d.id,
        "mode": d.mode,
        "target_host": d.target_host,
        "started_at": _time(d.started_at),
        "vm": {
            "id": d.vm.id,
            "name": d.vm.name,
            "status": d.vm.status,
            "host": d.vm.host,
        },
        "migration": None
        if m is None
        else {
            "id": m.id,
            "uuid": m.uuid,
            "kind": m.kind.value,
            "block_migration": m.block_migration,
            "status": m.status,
            "source_host": m.source_host,
            "dest_host": m.dest_host,
            "request_id": m.request_id,
            "started_at": _time(m.started_at),
            "updated_at": _time(m.updated_at),
        },
        "steps": [
            {
                "number": s.number,
                "title": s.title,
                "status": s.status.value,
                "summary": s.summary,
                "findings": list(s.findings),
                "duration_ms": s.duration_ms,
            }
            for s in d.steps
        ],
        "root_cause": _finding(d.root_cause) if d.root_cause else None,
        "other_findings": [_finding(f) for f in d.other_findings],
        "checks": [
            {
                "id": c.check_id,
                "title": c.title,
                "step": c.step,
                "root_cause": c.root_cause.value,
            }
            | _outcome(c.outcome)
            | {"duration_ms": c.duration_ms}
            for c in d.checks
        ],
        "duration_ms": d.duration_ms,
        # the request graph (additive: the contract lists what a diagnosis has "at least")
        "timing": timing.to_dict(d.timing),
    }


def dumps(d: Diagnosis) -> str:
    return json.dumps(to_dict(d), sort_keys=True, indent=2, ensure_ascii=False)


# ---- reading it back ---------------------------------------------------------------------


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _finding_from(data: dict[str, Any]) -> Finding:
    return Finding(
        root_cause=RootCauseId(data["id"]),
        check_id=data["check"],
        title=data["title"],
        confidence=Confidence(data["confidence"]),
        severity=Severity(data["severity"]),
        summary=data["summary"],
        evidence=tuple(
            Citation(source=e["source"], text=e["text"]) for e in data["evidence"]
        ),
        remediation=tuple(data["remediation"]),
        references=tuple(data.get("references", ())),
    )


def _outcome_from(data: dict[str, Any]) -> Outcome:
    status, reason = data["status"], data.get("reason", "")
    if status == "concluded":
        return Concluded(
            facts=dict(data["facts"]), confidence=Confidence(data["confidence"])
        )
    if status == "ruled_out":
        return RuledOut(reason=reason)
    if status == "inconclusive":
        return Inconclusive(reason=reason)
    if status == "skipped":
        return Skipped(reason=reason)
    return Errored(error=reason)


def from_dict(data: dict[str, Any]) -> Diagnosis:
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"unsupported schema_version {data.get('schema_version')!r}")
    m = data["migration"]
    started = _dt(data["started_at"])
    if started is None:
        raise ValueError("started_at is required")
    return Diagnosis(
        id=data["id"],
        vm=VmSummary(**data["vm"]),
        migration=None
        if m is None
        else MigrationSummary(
            id=m["id"],
            uuid=m["uuid"],
            kind=MigrationKind(m["kind"]),
            block_migration=m["block_migration"],
            status=m["status"],
            source_host=m["source_host"],
            dest_host=m["dest_host"],
            request_id=m["request_id"],
            started_at=_dt(m.get("started_at")),
            updated_at=_dt(m.get("updated_at")),
        ),
        steps=tuple(
            StepResult(
                number=s["number"],
                title=s["title"],
                status=StepStatus(s["status"]),
                summary=s["summary"],
                findings=tuple(s["findings"]),
                duration_ms=s["duration_ms"],
            )
            for s in data["steps"]
        ),
        root_cause=_finding_from(data["root_cause"]) if data["root_cause"] else None,
        other_findings=tuple(_finding_from(f) for f in data["other_findings"]),
        checks=tuple(
            CheckResult(
                check_id=c["id"],
                title=c["title"],
                step=c["step"],
                root_cause=RootCauseId(c["root_cause"]),
                outcome=_outcome_from(c),
                duration_ms=c["duration_ms"],
            )
            for c in data["checks"]
        ),
        started_at=started,
        duration_ms=data["duration_ms"],
        mode=data["mode"],
        target_host=data["target_host"],
        timing=timing.from_dict(data.get("timing")),
    )
