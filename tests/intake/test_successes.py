"""Which notifications and migration records count as a successful move (they resolve cases)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.intake.oslo import parse_envelope
from bot.intake.successes import success_from_migration, success_from_notification
from bot.store.resolution_repo import ResolvedVia


def envelope(event_type: str, data: dict[str, object], publisher: str) -> str:
    message = {
        "message_id": "m-1",
        "publisher_id": publisher,
        "event_type": event_type,
        "priority": "INFO",
        "timestamp": "2026-12-01 22:00:00.000000",
        "payload": {
            "nova_object.name": "InstanceActionPayload",
            "nova_object.data": data,
        },
    }
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)})


def test_post_dest_end_is_the_end_of_a_live_migration_on_its_destination() -> None:
    body = envelope(
        "instance.live_migration_post_dest.end",
        {"uuid": "vm-1", "host": "cmp-b-01"},
        "nova-compute:cmp-b-01",
    )
    found = success_from_notification(parse_envelope(body))
    assert found is not None
    instance, move = found
    assert instance == "vm-1"
    assert move.dest_host == "cmp-b-01"
    assert move.via is ResolvedVia.NOTIFICATION
    assert move.at == datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def test_events_that_are_not_a_finished_move_resolve_nothing() -> None:
    for event in (
        "instance.live_migration_post.end",  # the source, before the destination is done
        "instance.live_migration_rollback.end",
        "instance.resize_finish.end",  # waiting for confirm
    ):
        body = envelope(event, {"uuid": "vm-1", "host": "cmp-a-01"}, "nova-compute:x")
        assert success_from_notification(parse_envelope(body)) is None


def test_resize_confirm_end_is_a_finished_cold_migration() -> None:
    body = envelope(
        "instance.resize_confirm.end",
        {"uuid": "vm-2", "host": "cmp-b-02"},
        "nova-compute:cmp-a-01",
    )
    found = success_from_notification(parse_envelope(body))
    assert found is not None
    assert found[1].dest_host == "cmp-b-02"


def test_migration_records_by_status() -> None:
    record = {
        "id": 7,
        "server_id": "vm-3",
        "status": "completed",
        "source_compute": "cmp-a-01",
        "dest_compute": "cmp-a-03",
        "updated_at": "2026-12-01T22:05:00.000000",
    }
    found = success_from_migration(record)
    assert found is not None
    assert found[0] == "vm-3"
    assert (found[1].migration_id, found[1].source_host, found[1].dest_host) == (
        "7",
        "cmp-a-01",
        "cmp-a-03",
    )
    for status in ("error", "failed", "finished", "running"):
        assert success_from_migration({**record, "status": status}) is None
