"""Evaluate checks against collected evidence (pure: no I/O) and turn conclusions into findings."""

from __future__ import annotations

import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace

from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import (
    CheckResult,
    Citation,
    Concluded,
    Confidence,
    CouldNotCheck,
    Errored,
    Finding,
    Inconclusive,
    Outcome,
    RootCauseId,
    RuledOut,
    Severity,
    Skipped,
)
from diagnostics.registry import CheckSpec
from diagnostics.remedies import CLI, HOST_NAME
from diagnostics.remedies import check as look
from diagnostics.remedies import fill as fill_remedies

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]

_CONFIDENCE_RANK = {
    Confidence.CONFIRMED: 2,
    Confidence.LIKELY: 1,
    Confidence.POSSIBLE: 0,
}


class _KeepMissing(dict[str, str]):
    """Leave an unknown ``{placeholder}`` visible instead of failing the whole finding."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, facts: Mapping[str, str]) -> str:
    """Fill a check's summary/remediation template with its facts."""
    return string.Formatter().vformat(template, (), _KeepMissing(facts))


def evaluate(spec: CheckSpec, evidence: EvidenceMap) -> CheckResult:
    """Run one check; missing required evidence -> Skipped, an exception -> Errored."""
    started = time.perf_counter()
    outcome: Outcome
    kwargs: dict[str, Evidence | None] = {}
    missing: list[str] = []
    for param in spec.params:
        value = evidence.get(param.type)
        if isinstance(value, Evidence):
            kwargs[param.name] = value
            continue
        if param.required:
            why = value.reason if isinstance(value, Unavailable) else "not collected"
            missing.append(f"{param.type.__name__} ({why})")
        kwargs[param.name] = None
    if (
        not missing
        and spec.needs_any
        and all(
            kwargs.get(p.name) is None for p in spec.params if p.type in spec.needs_any
        )
    ):
        missing = [f"one of {', '.join(_why(t, evidence) for t in spec.needs_any)}"]
    if missing:
        outcome = Skipped(reason="needs " + ", ".join(missing), missing=tuple(missing))
    else:
        try:
            result: object = spec.fn(**kwargs)
        except Exception as exc:
            outcome = Errored(error=f"{type(exc).__name__}: {exc}")
        else:
            if isinstance(result, Concluded | RuledOut | Inconclusive | CouldNotCheck):
                outcome = result
            else:
                outcome = Errored(
                    error=f"returned {type(result).__name__}, not an outcome"
                )
    return CheckResult(
        check_id=spec.id,
        title=spec.title,
        step=spec.step,
        root_cause=spec.root_cause,
        outcome=outcome,
        duration_ms=int((time.perf_counter() - started) * 1000),
    )


def _why(kind: type[Evidence], evidence: EvidenceMap) -> str:
    value = evidence.get(kind)
    why = value.reason if isinstance(value, Unavailable) else "not collected"
    return f"{kind.__name__} ({why})"


def to_finding(spec: CheckSpec, concluded: Concluded) -> Finding:
    return Finding(
        root_cause=spec.root_cause,
        check_id=spec.id,
        title=spec.title,
        confidence=concluded.confidence,
        severity=spec.severity,
        summary=fill(spec.summary, concluded.facts),
        evidence=concluded.cites,
        remediation=fill_remedies(spec.remediation, concluded.facts),
        references=spec.references,
        caveats=tuple(f"could not rule out: {r}" for r in concluded.not_ruled_out),
        about_host=about_host(concluded.facts),
    )


def about_host(facts: Mapping[str, str]) -> str | None:
    """The host a conclusion is about: its ``dest_host`` (or ``host``) when a host name."""
    value = facts.get("dest_host") or facts.get("host") or ""
    return value if HOST_NAME.fullmatch(value) else None


def rank(
    results: Iterable[CheckResult], specs: Mapping[str, CheckSpec]
) -> tuple[Finding | None, tuple[Finding, ...]]:
    """The strongest ERROR conclusion that nothing else explains is the root cause.

    Order (shared/root-causes.md, rules of evidence): ERROR before WARNING severity, then
    confidence (a probe-confirmed conclusion beats a log-only one, which beats a
    circumstantial one), then the declared priority (specificity) within one confidence,
    then the id so the order is stable. A conclusion whose ``explained_by`` names another
    concluded ERROR cause is that cause's consequence: the deeper cause is primary and
    the consequence is listed after it, marked as such.
    """
    concluded = [
        (specs[r.check_id], r.outcome)
        for r in results
        if isinstance(r.outcome, Concluded)
    ]
    concluded.sort(
        key=lambda pair: (
            pair[0].severity is not Severity.ERROR,
            -_CONFIDENCE_RANK[pair[1].confidence],
            -pair[0].priority,
            pair[0].id,
        )
    )
    causes = {
        spec.root_cause: outcome
        for spec, outcome in concluded
        if spec.severity is Severity.ERROR
    }

    def deeper(spec: CheckSpec, outcome: Concluded) -> RootCauseId | None:
        """The concluded cause that explains this one (never a mutual pair)."""
        for cause in sorted(outcome.explained_by):
            other = causes.get(cause)
            if cause is spec.root_cause or other is None:
                continue
            if spec.root_cause not in other.explained_by:
                return cause
        return None

    findings: list[Finding] = []
    for spec, outcome in concluded:
        finding = to_finding(spec, outcome)
        if spec.severity is Severity.ERROR and (cause := deeper(spec, outcome)):
            finding = replace(finding, consequence_of=cause)
        findings.append(finding)
    explains: dict[RootCauseId, list[RootCauseId]] = {}
    for f in findings:
        if f.consequence_of is not None:
            explains.setdefault(f.consequence_of, []).append(f.root_cause)
    findings = [
        replace(f, explains=tuple(dict.fromkeys(explains.get(f.root_cause, ()))))
        if f.consequence_of is None and f.root_cause in explains
        else f
        for f in findings
    ]
    primary = next(
        (
            f
            for f in findings
            if f.severity is Severity.ERROR and f.consequence_of is None
        ),
        None,
    )
    if primary is None:
        return None, tuple(findings)
    rest = [f for f in findings if f is not primary]
    # a consequence of the primary reads right after it
    rest.sort(key=lambda f: f.consequence_of is not primary.root_cause)
    return primary, tuple(rest)


_UNKNOWN_REMEDIES = (
    look(
        CLI,
        "openstack server event show {server_id} {request_id}",
        "The failed events of the request with their details and tracebacks (admin).",
    ),
    look(
        CLI,
        "openstack server migration list --server {server_id}",
        "Every move of the VM with its status, to see whether earlier attempts failed too.",
    ),
)


def unknown_finding(
    raw: tuple[Citation, ...], facts: Mapping[str, str] | None = None
) -> Finding:
    """What a failed migration gets when no check concluded: the raw lines, honestly.

    ``facts`` (server_id, request_id) fill the read-only commands a person continues with.
    """
    return Finding(
        root_cause=RootCauseId.UNKNOWN,
        check_id="engine.unknown",
        title="No known failure signature matched",
        confidence=Confidence.POSSIBLE,
        severity=Severity.ERROR,
        summary=(
            "The migration failed but none of the checks recognised the cause. "
            "The raw fault, failed events and error log lines are shown so a person can continue."
        ),
        evidence=raw,
        remediation=fill_remedies(_UNKNOWN_REMEDIES, facts or {}),
    )
