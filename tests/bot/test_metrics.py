"""The metrics' bounded labels: a diagnosis counted by verdict, steps and what was missing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import metrics
from tests.bot.support import scripted_diagnosis


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("step 7: could not check: SSH to cmp-a-02 timed out after 10 s", "timeout"),
        ("step 4: could not check: connection refused by 10.0.0.5:22", "refused"),
        ("step 7: could not check: host key for cmp-a-02 does not match", "auth"),
        ("step 3: could not check: Placement answered 404", "not_found"),
        ("step 6: could not check: something odd", "other"),
    ],
)
def test_reason_classes_are_a_small_fixed_set(text: str, label: str) -> None:
    assert metrics.reason_class(text) == label


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_diagnosis_is_counted_by_verdict_confidence_steps_and_gaps() -> None:
    d = replace(
        scripted_diagnosis("web-02"),
        could_not_check=("step 7: could not check: SSH to cmp-a-02 timed out",),
    )
    labels = {"root_cause": "libvirt_tls", "confidence": "confirmed"}
    before = sample("migrate_diag_diagnoses_total", **labels)
    gaps = sample("migrate_diag_collector_failures_total", step="7", reason="timeout")
    steps = sample("migrate_diag_step_seconds_count", step="3")
    metrics.observe_diagnosis(d)
    assert sample("migrate_diag_diagnoses_total", **labels) == before + 1
    assert (
        sample("migrate_diag_collector_failures_total", step="7", reason="timeout")
        == gaps + 1
    )
    assert sample("migrate_diag_step_seconds_count", step="3") == steps + 1
