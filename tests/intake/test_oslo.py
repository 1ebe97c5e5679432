"""oslo.messaging envelopes and Nova's failure event types → FailureReport."""

from __future__ import annotations

import json

import pytest

from bot.cases.dedupe import dedupe_keys
from bot.cases.report import MalformedEvent, ReportSource
from bot.intake.oslo import parse_envelope, report_from_body
from diagnostics.model import MigrationKind
from tests.intake.samples import envelope, sample

VM = "8a3c5c34-0f3e-4b52-9a25-0c2a1d5b6f01"


@pytest.mark.parametrize(
    ("event_type", "kind", "status"),
    [
        ("compute_task.migrate_server.error", None, "error"),
        ("instance.live_migration_rollback.end", MigrationKind.LIVE, "failed"),
        ("instance.live_migration_abort.end", MigrationKind.LIVE, "cancelled"),
        ("instance.resize.error", None, "error"),
        ("compute_task.rebuild_server.error", MigrationKind.EVACUATION, "error"),
        ("instance.rebuild.error", MigrationKind.EVACUATION, "error"),
    ],
)
def test_failure_events_become_reports(
    event_type: str, kind: MigrationKind | None, status: str
) -> None:
    """Each failure event type of slack.md §4.1 maps to a report naming the instance."""
    field = "instance_uuid" if event_type.startswith("compute_task") else "uuid"
    body = envelope(sample(event_type, **{field: VM}), request_id="req-1")
    report = report_from_body(body)
    assert report is not None
    assert report.source is ReportSource.NOTIFICATION
    assert report.instance_uuid == VM
    assert (report.kind, report.status, report.event_type) == (kind, status, event_type)
    assert report.request_id


def test_rollback_reports_source_host_and_payload_request_id() -> None:
    """A rollback names the source compute host and the request id from its payload."""
    note = sample("instance.live_migration_rollback.end", uuid=VM, host="cmp-a-01")
    report = report_from_body(envelope(note, request_id="req-ctx"))
    assert report is not None
    assert report.source_host == "cmp-a-01"
    assert report.request_id == "req-5b6c791d-5709-4f36-8fbe-c3e02869e35d"


def test_resize_error_carries_the_fault() -> None:
    """The fault's exception class and message become the report's error text."""
    report = report_from_body(envelope(sample("instance.resize.error", uuid=VM)))
    assert report is not None
    assert (
        report.error
        == "FlavorDiskTooSmall: The created instance's disk would be too small."
    )


def test_conductor_error_uses_context_request_id_and_reason() -> None:
    """migrate_server.error has no request id in its payload: the context's is used."""
    report = report_from_body(
        envelope(
            sample("compute_task.migrate_server.error", instance_uuid=VM), "req-c1"
        )
    )
    assert report is not None
    assert report.request_id == "req-c1"
    assert report.error is not None
    assert report.error.startswith("NoValidHost")


def test_compute_exception_is_a_report_keyed_by_request_only() -> None:
    """compute.exception has no instance: it is kept only to join a case by request id."""
    report = report_from_body(envelope(sample("compute.exception"), request_id="req-x"))
    assert report is not None
    assert report.instance_uuid is None
    assert dedupe_keys(report) == ("request:req-x",)
    assert (
        report.error
        == "AggregateNameExists: Aggregate versioned_exc_aggregate already exists."
    )


def test_compute_exception_without_request_id_is_ignored() -> None:
    """Without a request id a compute.exception cannot be correlated, so it is dropped."""
    assert report_from_body(envelope(sample("compute.exception"))) is None


def test_other_event_types_are_ignored() -> None:
    """Context events (pre/post, starts) are not failures and produce nothing."""
    for event_type in ("instance.live_migration_pre.start", "instance.resize.end"):
        assert report_from_body(envelope(sample(event_type))) is None


def test_legacy_v1_body_is_accepted() -> None:
    """The older driver sends the message dict without the envelope; it parses too."""
    note = sample("instance.live_migration_abort.end", uuid=VM)
    body = json.dumps({**note, "_context_request_id": "req-9"})
    report = report_from_body(body)
    assert report is not None
    assert report.instance_uuid == VM


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (
            b'{"oslo.version": "2.0", "oslo.message": "{oops"}',
            "oslo.message is not a JSON",
        ),
        (b'{"oslo.version": "3.0", "oslo.message": "{}"}', "unsupported oslo.version"),
        (b'{"oslo.version": "2.0", "oslo.message": "{}"}', "no event_type"),
        (b'{"event_type": "x", "payload": 3}', "payload is not an object"),
    ],
)
def test_malformed_bodies_raise_with_a_reason(body: bytes, reason: str) -> None:
    """Malformed messages raise MalformedEvent whose reason says what is wrong."""
    with pytest.raises(MalformedEvent, match=reason):
        parse_envelope(body)


def test_failure_event_without_instance_is_malformed() -> None:
    """A failure event whose payload lacks the instance uuid is malformed, not ignored."""
    note = sample("instance.live_migration_rollback.end", uuid=None)
    with pytest.raises(MalformedEvent, match="no instance uuid"):
        report_from_body(envelope(note))
