"""Diagnosis <-> JSON: the contract of shared/root-causes.md, ``schema_version: 2``.

Stable and versioned: keys sorted, ids and enums as their string values. ``from_dict``
reads it back (the bot stores runs as this JSON and re-renders them after a restart),
version 1 too. Version 2 made each remediation step an object a script can use:
``{"kind": "fix"|"check", "on": <host> | "openstack" | <pod>, "place": "host" |
"openstack" | "pod", "command": …, "why": …}`` instead of a sentence with "On host: "
baked in; a step that is not a command has no ``command``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from diagnostics.model import (
    CheckResult,
    Citation,
    Concluded,
    Conclusion,
    Confidence,
    CouldNotCheck,
    Diagnosis,
    Errored,
    Finding,
    Inconclusive,
    MigrationKind,
    MigrationSummary,
    Outcome,
    Place,
    Remedy,
    RemedyKind,
    RootCauseId,
    RuledOut,
    RunsOn,
    Severity,
    Skipped,
    StepResult,
    StepRole,
    StepStatus,
    VmSummary,
)
from diagnostics.remedies import PROGRAMS, programs_of
from diagnostics.report import timing
from diagnostics.times import parse_time

# 2: remediation steps as data; conclusion / could_not_check / next_steps, step
# roles, finding caveats and causal links (explains / consequence_of), the
# could_not_check outcome. Version 1 documents (stored runs) still read.
SCHEMA_VERSION = 2
READABLE_VERSIONS = frozenset({1, SCHEMA_VERSION})


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
        "remediation": [_remedy(r) for r in f.remediation],
        "references": list(f.references),
        "caveats": list(f.caveats),
        "explains": [c.value for c in f.explains],
        "consequence_of": f.consequence_of.value if f.consequence_of else None,
        "about_host": f.about_host,
    }


def _remedy(r: Remedy) -> dict[str, Any]:
    step = {
        "kind": r.kind.value,
        "on": r.on.contract_name,
        "place": r.on.place.value,
        "why": r.why,
    }
    return step | ({"command": r.command} if r.command is not None else {})


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
    if isinstance(o, CouldNotCheck):
        return {"status": "could_not_check", "reason": o.why, "needs": o.needs}
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
                "role": s.role.value if s.role else None,
            }
            for s in d.steps
        ],
        "conclusion": d.conclusion.value,
        "could_not_check": list(d.could_not_check),
        "next_steps": list(d.next_steps),
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
    return parse_time(value)


_V1_ON_HOST = re.compile(r"^On (?P<host>[^\s:]+): (?P<command>.+)$", re.DOTALL)


def _remedy_from(data: Any) -> Remedy:
    if isinstance(data, str):  # version 1: a sentence, maybe "On <host>: <command>"
        hit = _V1_ON_HOST.match(data)
        on = RunsOn(place=Place.HOST, name=hit["host"]) if hit else None
        text = hit["command"] if hit else data
        try:
            runnable = set(programs_of(text)) <= PROGRAMS and bool(programs_of(text))
        except ValueError:  # unbalanced quotes: prose
            runnable = False
        return Remedy(
            kind=RemedyKind.CHECK,
            on=on or RunsOn(place=Place.OPENSTACK_CLI),
            command=text if runnable else None,
            why="(stored before remediation steps were typed)" if runnable else text,
        )
    place = Place(data["place"])
    return Remedy(
        kind=RemedyKind(data["kind"]),
        on=RunsOn(
            place=place, name=None if place is Place.OPENSTACK_CLI else data["on"]
        ),
        command=data.get("command"),
        why=data["why"],
    )


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
        remediation=tuple(_remedy_from(r) for r in data["remediation"]),
        references=tuple(data.get("references", ())),
        caveats=tuple(data.get("caveats", ())),
        explains=tuple(RootCauseId(c) for c in data.get("explains", ())),
        consequence_of=RootCauseId(data["consequence_of"])
        if data.get("consequence_of")
        else None,
        about_host=data.get("about_host"),
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
    if status == "could_not_check":
        return CouldNotCheck(why=reason, needs=data.get("needs", ""))
    if status == "skipped":
        return Skipped(reason=reason)
    return Errored(error=reason)


def from_dict(data: dict[str, Any]) -> Diagnosis:
    if data.get("schema_version") not in READABLE_VERSIONS:
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
                role=StepRole(s["role"]) if s.get("role") else None,
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
        conclusion=Conclusion(data["conclusion"])
        if "conclusion" in data
        else _v1_conclusion(data),
        could_not_check=tuple(data.get("could_not_check", ())),
        next_steps=tuple(data.get("next_steps", ())),
    )


def _v1_conclusion(data: dict[str, Any]) -> Conclusion:
    """What a version-1 document (no ``conclusion``) meant."""
    root = data.get("root_cause")
    if root is None:
        return Conclusion.NO_FAILURE
    return Conclusion.INCONCLUSIVE if root["id"] == "unknown" else Conclusion.ROOT_CAUSE
