"""The case rules without a database: dedupe keys, join rules, storm keys, routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cases.dedupe import JoinRules, dedupe_keys, primary_key, sighting
from bot.cases.report import FailureReport, MalformedEvent, ReportSource
from bot.cases.routing import route_channel
from bot.cases.storms import storm_keys
from bot.settings import Route
from bot.store.incident_repo import StormAxis, StormKey
from bot.store.intake_repo import KnownCase, LeasedCase

NOW = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def report(**kw: object) -> FailureReport:
    return FailureReport(source=ReportSource.POLLER, received_at=NOW, **kw)  # type: ignore[arg-type]


def known(**kw: object) -> KnownCase:
    fields: dict[str, object] = {
        "case_id": "case-1",
        "instance_uuid": "vm-1",
        "migration": None,
        "request_id": None,
        "occurred_at": None,
    }
    return KnownCase(**{**fields, **kw})  # type: ignore[arg-type]


def leased(**kw: object) -> LeasedCase:
    fields: dict[str, object] = {
        "case_id": "case-1",
        "instance_uuid": "vm-1",
        "migration": None,
        "kind": None,
        "source_host": None,
        "dest_host": None,
        "availability_zone": None,
        "aggregate": None,
        "error": None,
        "channel": None,
        "created_at": NOW,
    }
    return LeasedCase(**{**fields, **kw})  # type: ignore[arg-type]


def test_every_known_identity_is_a_key_and_the_bare_request_is_weak() -> None:
    """uuid, integer id and request+instance are strong keys; the bare request is not."""
    r = report(
        migration_uuid="m-uuid",
        migration_id="7",
        request_id="req-1",
        instance_uuid="vm-1",
    )
    assert dedupe_keys(r) == (
        "migration-id:7",
        "migration:m-uuid",
        "request:req-1",
        "request:req-1:instance:vm-1",
    )
    s = sighting(r)
    assert s.strong_keys == (
        "migration-id:7",
        "migration:m-uuid",
        "request:req-1:instance:vm-1",
    )
    assert (s.request_key, s.instance_key, s.primary_key) == (
        "request:req-1",
        "instance:vm-1",
        "migration:m-uuid",
    )


def test_a_report_naming_nothing_is_malformed_with_the_reason() -> None:
    """No migration, instance or request: refused, saying so."""
    with pytest.raises(MalformedEvent, match="neither a migration, an instance nor"):
        primary_key(report(source_host="cmp-1"))


@pytest.mark.parametrize(
    ("mine", "theirs", "same"),
    [
        ({}, {}, True),
        ({"migration_id": "7"}, {"migration": "7"}, True),
        ({"migration_id": "7"}, {"migration": "8"}, False),
        ({"request_id": "req-1"}, {"request_id": "req-2"}, False),
        ({"occurred_at": NOW}, {"occurred_at": NOW - timedelta(minutes=10)}, True),
        ({"occurred_at": NOW}, {"occurred_at": NOW - timedelta(minutes=16)}, False),
    ],
    ids=[
        "unknowns-match",
        "same-migration",
        "other-migration",
        "other-request",
        "within-window",
        "older-failure",
    ],
)
def test_same_failure_of_one_vm(
    mine: dict[str, object], theirs: dict[str, object], same: bool
) -> None:
    """A recent case of the VM joins unless what both know differs (or is too old)."""
    rules = JoinRules(report(instance_uuid="vm-1", **mine), WINDOW, NOW)
    assert rules.same_failure(known(**theirs)) is same
    assert rules.since == NOW - WINDOW


@pytest.mark.parametrize(
    ("mine", "theirs", "same"),
    [("vm-1", "vm-1", True), ("vm-1", "vm-2", False), (None, "vm-2", True)],
    ids=["same-server", "other-server", "exception-without-instance"],
)
def test_same_call_joins_only_one_server(
    mine: str | None, theirs: str | None, same: bool
) -> None:
    """The bare request key joins when the instances cannot differ."""
    rules = JoinRules(report(request_id="req-1", instance_uuid=mine), WINDOW, NOW)
    assert rules.same_call(known(instance_uuid=theirs)) is same


def test_storm_keys_most_specific_first_and_stored_as_before() -> None:
    """Source host, then destination, then the exception class; stored as kind:value."""
    keys = storm_keys(
        leased(
            source_host="cmp-1",
            dest_host="cmp-2",
            error="MigrationPreCheckError: Migration pre-check error",
        )
    )
    assert keys == (
        StormKey(StormAxis.SOURCE_HOST, "cmp-1"),
        StormKey(StormAxis.DEST_HOST, "cmp-2"),
        StormKey(StormAxis.CAUSE, "MigrationPreCheckError"),
    )
    assert [str(k) for k in keys] == [
        "host:cmp-1",
        "dest:cmp-2",
        "cause:MigrationPreCheckError",
    ]
    assert all(StormKey.stored(str(k)) == k for k in keys)
    assert storm_keys(leased(error="no exception class here")) == ()


def test_first_matching_route_wins_else_the_default() -> None:
    """Every criterion a route gives must match; otherwise the default channel."""
    routes = (
        Route(channel="C-AZ2", availability_zone="az2"),
        Route(channel="C-RACK", host_pattern="cmp-r1-*"),
    )
    assert route_channel(leased(availability_zone="az2"), routes, "C-DEF") == "C-AZ2"
    assert route_channel(leased(dest_host="cmp-r1-04"), routes, "C-DEF") == "C-RACK"
    assert route_channel(leased(source_host="cmp-r2-01"), routes, "C-DEF") == "C-DEF"
    assert route_channel(leased(), routes, None) is None
