"""Under --target-host H, steps 5-7 describe H: a cause about the failed move's
destination D is named in its step, and does not fail H's check."""

from __future__ import annotations

import dataclasses

from diagnostics.model import (
    Confidence,
    Finding,
    RootCauseId,
    Severity,
    StepResult,
    StepRole,
    StepStatus,
)
from diagnostics.step_facts import Step
from diagnostics.steps import mark_roles

CPU = Finding(
    root_cause=RootCauseId.CPU_INCOMPATIBLE,
    check_id="nova.cpu-incompatible",
    title="Destination CPU is incompatible",
    confidence=Confidence.LIKELY,
    severity=Severity.ERROR,
    summary="the CPU of cmp-a-02 cannot run the guest",
    about_host="cmp-a-02",
)
CAPACITY = StepResult(
    number=Step.CAPACITY,
    title="Target host capacity and CPU",
    status=StepStatus.PASSED,
    summary="cmp-a-03 free: 64 vCPU; same CPU model",
)


def _step5(target: str | None) -> StepResult:
    (marked,) = mark_roles(
        [CAPACITY], CPU, int(Step.CAPACITY), None, target_host=target
    )
    return marked


def test_a_cause_on_the_destination_does_not_fail_the_target_hosts_step() -> None:
    step = _step5("cmp-a-03")
    assert step.status is StepStatus.PASSED
    assert step.summary == CAPACITY.summary
    assert step.role is StepRole.CAUSE
    assert step.findings[0].startswith("root cause, on cmp-a-02")
    assert "not the target cmp-a-03" in step.findings[0]


def test_without_a_target_or_with_the_destination_as_target_the_step_fails() -> None:
    for target in (None, "cmp-a-02"):
        step = _step5(target)
        assert step.status is StepStatus.FAILED, target
        assert step.findings[0] == "root cause: Destination CPU is incompatible"


def test_a_cause_about_the_target_itself_fails_its_step() -> None:
    about_target = dataclasses.replace(CPU, about_host="cmp-a-03")
    (step,) = mark_roles(
        [CAPACITY], about_target, int(Step.CAPACITY), None, target_host="cmp-a-03"
    )
    assert step.status is StepStatus.FAILED
