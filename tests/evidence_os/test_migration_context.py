"""Choosing the migration, matching its instance action, and the action's time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.evidence.migration_context import (
    action_window,
    match_action,
    summarize_migration,
)
from diagnostics.evidence.types import (
    ActionEvent,
    FlavorInfo,
    InstanceAction,
    InstanceActions,
    MigrationRecord,
    MigrationRecords,
    Server,
)
from diagnostics.model import MigrationKind, MigrationRef

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


SERVER = Server(
    provenance="GET /servers/s1",
    id="s1",
    name="web-01",
    status="ACTIVE",
    vm_state="active",
    task_state=None,
    power_state=1,
    host="cmp-a-01",
    hypervisor_hostname="cmp-a-01",
    instance_name="instance-00000003",
    availability_zone="az-1",
    pinned_availability_zone=None,
    host_status="UP",
    locked=False,
    flavor=FlavorInfo(name="g1.medium", vcpus=4, ram_mb=8192, disk_gb=40),
    image_id="img",
)


def record(
    id_: str, kind: str, minutes: float, status: str = "error"
) -> MigrationRecord:
    return MigrationRecord(
        id=id_,
        uuid=f"uuid-{id_}",
        kind=kind,
        status=status,
        source_compute="cmp-a-01",
        dest_compute="cmp-a-03",
        dest_host=None,
        created_at=at(minutes),
        updated_at=at(minutes + 1),
    )


def action(
    name: str, minutes: float, request_id: str, events: tuple[ActionEvent, ...] = ()
) -> InstanceAction:
    return InstanceAction(
        action=name,
        request_id=request_id,
        start_time=at(minutes),
        message=None,
        events=events,
    )


RECORDS = MigrationRecords(
    provenance="GET /os-migrations",
    records=(
        record("1", "migration", 0, "completed"),
        record("2", "live-migration", 30),
    ),
)
ACTIONS = (
    action("live-migration", 30.0, "req-live-new"),
    action("live-migration", 10.0, "req-live-old"),
    action("migrate", 0.0, "req-cold"),
    action("create", -60.0, "req-create"),
)


def test_newest_record_is_chosen_by_default() -> None:
    """Without a migration id the newest record (by creation time) is diagnosed."""
    summary = summarize_migration(SERVER, RECORDS, None, MigrationRef(server="web-01"))
    assert summary is not None
    assert (summary.id, summary.kind, summary.status) == (
        "2",
        MigrationKind.LIVE,
        "error",
    )
    assert (summary.source_host, summary.dest_host) == ("cmp-a-01", "cmp-a-03")
    assert summary.request_id is None
    assert summary.block_migration is None


@pytest.mark.parametrize("migration_id", ["1", "uuid-1"], ids=["numeric-id", "uuid"])
def test_named_record_wins(migration_id: str) -> None:
    """A migration id (numeric or uuid) picks that record even when it is older."""
    summary = summarize_migration(
        SERVER, RECORDS, None, MigrationRef(server="web-01", migration_id=migration_id)
    )
    assert summary is not None
    assert (summary.id, summary.kind) == ("1", MigrationKind.COLD)


def test_unknown_migration_id_gives_nothing() -> None:
    """A migration id that is not among the records yields no summary."""
    assert (
        summarize_migration(
            SERVER, RECORDS, None, MigrationRef(server="web-01", migration_id="99")
        )
        is None
    )


def test_target_host_does_not_rewrite_where_the_move_went() -> None:
    """--target-host is the host evaluated, not the recorded move's destination."""
    plain = summarize_migration(SERVER, RECORDS, None, MigrationRef(server="web-01"))
    summary = summarize_migration(
        SERVER, RECORDS, None, MigrationRef(server="web-01", target_host="cmp-zz-09")
    )
    assert summary is not None
    assert plain is not None
    assert summary.dest_host == plain.dest_host != "cmp-zz-09"


def test_no_record_but_operator_said_the_kind() -> None:
    """No record (Nova refused with a 400) but ref.kind given: a summary from the server."""
    empty = MigrationRecords(provenance="p", records=())
    ref = MigrationRef(
        server="web-01", kind=MigrationKind.EVACUATION, target_host="cmp-b-01"
    )
    summary = summarize_migration(SERVER, empty, None, ref)
    assert summary is not None
    assert (summary.kind, summary.source_host, summary.dest_host, summary.id) == (
        MigrationKind.EVACUATION,
        "cmp-a-01",
        "cmp-b-01",
        None,
    )
    assert (
        summarize_migration(SERVER, empty, None, MigrationRef(server="web-01")) is None
    )


def test_matched_action_supplies_request_id() -> None:
    """Second pass: the matched action of the same kind gives the request id."""
    ref = MigrationRef(server="web-01")
    first = summarize_migration(SERVER, RECORDS, None, ref)
    matched = match_action(ACTIONS, first)
    assert matched is not None
    actions = InstanceActions(provenance="p", actions=ACTIONS, migration_action=matched)
    summary = summarize_migration(SERVER, RECORDS, actions, ref)
    assert summary is not None
    assert summary.request_id == "req-live-new"


def test_action_of_another_kind_is_not_used() -> None:
    """An action whose kind differs from the record's never lends its request id."""
    actions = InstanceActions(
        provenance="p", actions=ACTIONS, migration_action=ACTIONS[2]
    )
    summary = summarize_migration(
        SERVER, RECORDS, actions, MigrationRef(server="web-01")
    )
    assert summary is not None
    assert summary.request_id is None


@pytest.mark.parametrize(
    ("kind", "started", "expected"),
    [
        (MigrationKind.LIVE, 11.0, "req-live-old"),
        (MigrationKind.LIVE, 29.0, "req-live-new"),
        (MigrationKind.COLD, 1.0, "req-cold"),
        (MigrationKind.EVACUATION, 1.0, None),
    ],
    ids=["older-live", "newer-live", "cold-is-migrate", "no-evacuate-action"],
)
def test_match_by_kind_and_closest_start(
    kind: MigrationKind, started: float, expected: str | None
) -> None:
    """Same kind, closest start to the record's creation; none when no action of that kind."""
    records = MigrationRecords(
        provenance="p", records=(record("5", kind.value, started),)
    )
    summary = summarize_migration(SERVER, records, None, MigrationRef(server="web-01"))
    matched = match_action(ACTIONS, summary)
    assert (matched.request_id if matched else None) == expected


def test_without_migration_newest_migration_action() -> None:
    """No migration at all: the newest action of any migration kind."""
    matched = match_action(ACTIONS, None)
    assert matched is not None
    assert matched.request_id == "req-live-new"


def test_action_window_spans_events_with_margin() -> None:
    """The window runs from the action start to the last event finish, widened by the margin."""
    events = (
        ActionEvent(event="a", result="Success", start_time=at(0.5), finish_time=at(1)),
        ActionEvent(event="b", result="Error", start_time=at(1), finish_time=at(4)),
    )
    window = action_window(action("live-migration", 0, "req", events), 60)
    assert window == (at(-1), at(5))
    assert action_window(None, 60) is None
    no_start = InstanceAction(
        action="migrate", request_id="r", start_time=None, message=None
    )
    assert action_window(no_start, 60) is None


def test_action_window_runs_until_the_migration_record_ends() -> None:
    """A live migration's events end when the job is handed off; the copy (and its
    timeout lines) runs until the record's last update, which the window must include."""
    events = (
        ActionEvent(event="compute_live_migration", result="Success",
                    start_time=at(0.5), finish_time=at(0.6)),
    )  # fmt: skip
    window = action_window(action("live-migration", 0, "req", events), 60, until=at(27))
    assert window == (at(-1), at(28))
    # a record older than the action (another attempt's) does not stretch it
    assert action_window(action("live-migration", 0, "req", events), 60, until=at(-5)) == (
        at(-1), at(1.6),
    )  # fmt: skip
