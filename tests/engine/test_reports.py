"""JSON and text renderers of a Diagnosis."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

import jsonschema
from hypothesis import given, settings

from diagnostics.model import Conclusion, Diagnosis
from diagnostics.report import json as json_report
from diagnostics.report import text
from tests.strategies import diagnoses

SCHEMA = json.loads(
    resources.files("diagnostics.report").joinpath("schema.json").read_text()
)


@given(diagnoses)
@settings(max_examples=60, deadline=None)
def test_json_round_trips_and_validates(d: Diagnosis) -> None:
    """Any diagnosis serialises to JSON that validates against the contract and reads back equal."""
    data = json.loads(json_report.dumps(d))
    jsonschema.validate(data, SCHEMA)
    assert data["schema_version"] == json_report.SCHEMA_VERSION == 2
    assert json_report.from_dict(data) == d


@given(diagnoses)
@settings(max_examples=20, deadline=None)
def test_version_1_documents_still_read(d: Diagnosis) -> None:
    """A run stored as schema 1 (remediation as sentences) reads back; hosts are kept."""
    data = json.loads(json_report.dumps(d))
    data["schema_version"] = 1
    for finding in [data["root_cause"], *data["other_findings"]]:
        if finding is not None:
            finding["remediation"] = ["On cmp-a-02: systemctl status libvirtd", "look"]
    back = json_report.from_dict(data)
    if back.root_cause is not None:
        first, second = back.root_cause.remediation
        assert (first.on.name, first.command) == (
            "cmp-a-02",
            "systemctl status libvirtd",
        )
        assert (second.command, second.why) == (None, "look")  # prose stays prose


@given(diagnoses)
@settings(max_examples=30, deadline=None)
def test_text_names_every_step_and_the_verdict(d: Diagnosis) -> None:
    """The text report has one line per step and names the root cause id, or says there is
    no failure, or that it is inconclusive."""
    out = text.render(d, colour=False)
    for step in d.steps:
        assert f"{step.number}. {step.title}" in out
    if d.root_cause is None and d.conclusion is Conclusion.NO_FAILURE:
        assert "no failure" in out.lower()
        assert "Inconclusive" not in out
    elif d.root_cause is None:
        assert "Inconclusive" in out
        assert "no failure" not in out.lower()
    else:
        assert f"ROOT CAUSE: {d.root_cause.root_cause.value}" in out
    assert "\x1b[" not in out


@given(diagnoses)
@settings(max_examples=10, deadline=None)
def test_colour_only_when_asked(d: Diagnosis) -> None:
    """ANSI colour codes appear only with colour on (the CLI turns it on for a TTY)."""
    assert "\x1b[" not in text.render(d, colour=False)
    assert "\x1b[" in text.render(d, colour=True)


@given(diagnoses)
@settings(max_examples=10, deadline=None)
def test_json_key_order_is_stable(d: Diagnosis) -> None:
    """Keys are sorted so diffs of two runs are readable."""
    data = json.loads(json_report.dumps(d))
    assert list(data) == sorted(data)


@given(diagnoses)
@settings(max_examples=10, deadline=None)
def test_text_from_logs_cannot_drive_the_terminal(d: Diagnosis) -> None:
    """An ESC sequence in a VM name or evidence is shown as \\x1b, never written raw."""
    hostile = dataclasses.replace(d, vm=dataclasses.replace(d.vm, name="vm\x1b[2J\x07"))
    out = text.render(hostile, colour=False)
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "vm\\x1b[2J\\x07" in out
