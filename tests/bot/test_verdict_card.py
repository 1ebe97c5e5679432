"""The Slack root-cause card says how the verdict was weighed: what the cause explains,
what it could not rule out, which other finding is its consequence, and inconclusive."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from bot.cards import render_root_cause, root_cause_text
from diagnostics.model import (
    Conclusion,
    Confidence,
    Diagnosis,
    Finding,
    RootCauseId,
    Severity,
    VmSummary,
)


def _finding(cause: RootCauseId, **kw: object) -> Finding:
    base: dict[str, object] = {
        "root_cause": cause,
        "check_id": f"t.{cause.value}",
        "title": f"title of {cause.value}",
        "confidence": Confidence.LIKELY,
        "severity": Severity.ERROR,
        "summary": "summary",
    }
    return Finding(**(base | kw))  # type: ignore[arg-type]


DOWN = _finding(
    RootCauseId.COMPUTE_SERVICE_DOWN,
    explains=(RootCauseId.LIBVIRT_TLS,),
    caveats=("could not rule out: cmp-b-02 being down or unreachable",),
)
TLS = _finding(
    RootCauseId.LIBVIRT_TLS,
    confidence=Confidence.POSSIBLE,
    consequence_of=RootCauseId.COMPUTE_SERVICE_DOWN,
)
BASE = Diagnosis(
    id="d1",
    vm=VmSummary(id="vm", name="db-03", status="ACTIVE", host="cmp-b-01"),
    migration=None,
    steps=(),
    root_cause=DOWN,
    other_findings=(TLS,),
    checks=(),
    started_at=datetime(2026, 12, 1, tzinfo=UTC),
    duration_ms=1,
    conclusion=Conclusion.ROOT_CAUSE,
)


def _text(d: Diagnosis) -> str:
    return json.dumps([b.to_dict() for b in render_root_cause(d, "run-1", None)])


def test_card_names_what_the_cause_explains_and_its_consequence() -> None:
    """compute_service_down explains libvirt_tls; the TLS finding is its consequence."""
    text = _text(BASE)
    assert "explains `libvirt_tls`" in text
    assert "could not rule out: cmp-b-02 being down" in text
    assert "consequence of `compute_service_down`" in text


def test_inconclusive_card_lists_what_could_not_run_and_what_to_try() -> None:
    """No root cause and steps that could not run: never 'No failure found'."""
    d = replace(
        BASE,
        root_cause=None,
        other_findings=(),
        conclusion=Conclusion.INCONCLUSIVE,
        could_not_check=("step 7: could not check: sudo refused on cmp-b-01",),
        next_steps=("run again with --kind evacuation",),
    )
    text = _text(d)
    assert "Inconclusive" in text
    assert "sudo refused on cmp-b-01" in text
    assert "--kind evacuation" in text
    assert "No failure found" not in text
    assert root_cause_text(d).startswith("Inconclusive")
