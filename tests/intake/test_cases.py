"""CaseManager: one case per migration, correlation across sources, storms, routing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.cases.manager import CaseManager
from bot.cases.report import FailureReport, ReportSource
from bot.intake.webhook import parse_body
from bot.store.intake_models import IntakeCaseRow
from bot.store.repo import Store
from bot.times import as_utc, utcnow
from diagnostics.model import CloudUnreachable, MigrationRef, VmNotFound
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)

VM = "0b7d6a0e-1111-4c1e-8d55-5d1e2f3a4b5c"
MIG = "6d9f4a1c-2222-4e77-9c1a-7f0b8e9d1a2b"


def notification(**over: object) -> FailureReport:
    values: dict[str, object] = {
        "source": ReportSource.NOTIFICATION,
        "instance_uuid": VM,
        "request_id": "req-1",
        "status": "failed",
        "source_host": "cmp-a-01",
        "event_type": "instance.live_migration_rollback.end",
    }
    values.update(over)
    return FailureReport(**values)  # type: ignore[arg-type]


def polled(**over: object) -> FailureReport:
    values: dict[str, object] = {
        "source": ReportSource.POLLER,
        "instance_uuid": VM,
        "migration_uuid": MIG,
        "migration_id": "42",
        "status": "failed",
        "source_host": "cmp-a-01",
        "dest_host": "cmp-a-02",
    }
    values.update(over)
    return FailureReport(**values)  # type: ignore[arg-type]


def manager(
    store: Store, **intake: object
) -> tuple[CaseManager, RecordingPoster, RecordingIncidents]:
    poster, incidents = RecordingPoster(), RecordingIncidents()
    return (
        CaseManager(bot_settings(**intake), store, poster, incidents),
        poster,
        incidents,
    )


async def test_duplicate_reports_make_one_case(sqlite_store: Store) -> None:
    """The same notification three times (redelivery, duplicate) is one case, posted once."""
    cases, poster, _ = manager(sqlite_store)
    claims = [await cases.submit(notification()) for _ in range(3)]
    assert [c.new for c in claims] == [True, False, False]
    assert len({c.case_id for c in claims}) == 1
    assert await cases.dispatch_due() == 1
    assert await cases.dispatch_due() == 0
    assert poster.case_ids() == [claims[0].case_id]


async def test_poller_and_bus_see_one_failure(sqlite_store: Store) -> None:
    """A notification then the poller's migration record of the same VM join one case."""
    cases, poster, _ = manager(sqlite_store)
    first = await cases.submit(notification())
    second = await cases.submit(polled())
    assert second.case_id == first.case_id
    assert not second.new
    _, keys = await cases.intake.case_state(first.case_id)
    assert set(keys) == {
        f"instance:{VM}",
        f"migration:{MIG}",
        "migration-id:42",
        "request:req-1",
        f"request:req-1:instance:{VM}",
    }
    await cases.dispatch_due()
    _, ref, channel, thread = poster.posts[0]
    assert (ref.server, ref.migration_id, channel, thread) == (VM, MIG, "C-OPS", None)
    # later sightings of either identity still land on the same case
    assert (await cases.submit(polled(migration_uuid=None))).case_id == first.case_id
    assert (await cases.submit(notification())).case_id == first.case_id
    assert len(poster.posts) == 1


async def test_poller_first_then_bus(sqlite_store: Store) -> None:
    """The poller seeing it first and the bus second also gives one case."""
    cases, _, _ = manager(sqlite_store)
    first = await cases.submit(polled())
    assert (await cases.submit(notification())).case_id == first.case_id


async def test_another_migration_of_the_same_vm_is_another_case(
    sqlite_store: Store,
) -> None:
    """A second failed migration of the VM (a retry) is a new case, not a duplicate."""
    cases, _, _ = manager(sqlite_store)
    first = await cases.submit(polled())
    retry = await cases.submit(polled(migration_uuid="mig-2", migration_id="43"))
    assert retry.new
    assert retry.case_id != first.case_id


async def test_old_instance_key_is_not_reused(sqlite_store: Store) -> None:
    """After the correlation window the same VM failing again starts a new case."""
    now = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, _, _ = manager(sqlite_store, correlation_window_s=60)
    cases.clock = lambda: now
    first = await cases.submit(notification())
    cases.clock = lambda: now + timedelta(minutes=5)
    later = await cases.submit(notification(request_id="req-2"))
    assert later.new
    assert later.case_id != first.case_id


async def test_compute_exception_waits_for_its_instance(sqlite_store: Store) -> None:
    """compute.exception alone is not posted; the rollback with its request id completes it."""
    cases, poster, _ = manager(sqlite_store)
    orphan = FailureReport(
        source=ReportSource.NOTIFICATION,
        request_id="req-1",
        event_type="compute.exception",
        error="MigrationError: Migration error: libvirt TLS handshake failed",
    )
    first = await cases.submit(orphan)
    assert await cases.dispatch_due() == 0
    assert (await cases.intake.case_state(first.case_id))[0] == "waiting"
    second = await cases.submit(notification())
    assert second.case_id == first.case_id
    assert await cases.dispatch_due() == 1
    assert poster.posts[0][1].server == VM


async def test_failed_post_is_retried_after_backoff(sqlite_store: Store) -> None:
    """A passing failure: the case is pending again, due only after the backoff."""
    now = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, poster, _ = manager(sqlite_store, retry_base_s=5)
    cases.clock = lambda: now
    poster.fail_first = 1
    claim = await cases.submit(notification())
    assert await cases.dispatch_due() == 0
    assert await cases.intake.outcome(claim.case_id) == (
        "pending",
        "RuntimeError: slack is down",
        1,
    )
    assert await cases.dispatch_due() == 0  # not before the backoff
    cases.clock = lambda: now + timedelta(seconds=5)
    assert await cases.dispatch_due() == 1
    assert poster.case_ids() == [claim.case_id]
    assert poster.notices == []


async def test_retries_are_capped_then_the_case_ends(sqlite_store: Store) -> None:
    """Failing every time: retried after 5 s, then 8 s (doubling, capped), then failed
    with the reason, said once, and never leased again."""
    start = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    clock = [start]
    cases, poster, _ = manager(
        sqlite_store, max_attempts=3, retry_base_s=5, retry_max_s=8
    )
    cases.clock = lambda: clock[0]
    poster.fail_first = 100
    claim = await cases.submit(notification())

    async def attempts_at(seconds: float) -> int:
        clock[0] = start + timedelta(seconds=seconds)
        assert await cases.dispatch_due() == 0
        return (await cases.intake.outcome(claim.case_id))[2]

    assert await attempts_at(0) == 1
    assert await attempts_at(4.9) == 1
    assert await attempts_at(5) == 2
    assert await attempts_at(12.9) == 2  # 5 s + min(10, 8) s
    assert await attempts_at(13) == 3
    status, reason, _ = await cases.intake.outcome(claim.case_id)
    assert status == "failed"
    assert reason == "gave up after 3 attempts: RuntimeError: slack is down"
    assert poster.notices == [("C-OPS", f"Case {claim.case_id} ({VM}): {reason}.")]
    assert await attempts_at(3600) == 3
    assert poster.fail_first == 100 - 3


async def test_a_deleted_vm_ends_at_once_with_one_notice(sqlite_store: Store) -> None:
    cases, poster, _ = manager(sqlite_store)
    poster.fail_with = VmNotFound(f"no server with id {VM!r}")
    claim = await cases.submit(notification())
    assert await cases.dispatch_due() == 0
    status, reason, attempts = await cases.intake.outcome(claim.case_id)
    assert (status, attempts) == ("failed", 1)
    assert reason is not None
    assert "the VM no longer exists" in reason
    assert len(poster.notices) == 1
    assert VM in poster.notices[0][1]
    assert await cases.dispatch_due() == 0


async def test_a_channel_that_refuses_ends_the_case_without_a_notice(
    sqlite_store: Store,
) -> None:
    class Refused(Exception):  # what bot.posting.writer.DeliveryFailed carries
        permanent = True
        reason = "not_in_channel"

    cases, poster, _ = manager(sqlite_store)
    poster.fail_with = Refused("chat.postMessage failed: not_in_channel")
    claim = await cases.submit(notification())
    assert await cases.dispatch_due() == 0
    assert await cases.intake.outcome(claim.case_id) == (
        "failed",
        "Slack refused the post (not_in_channel)",
        1,
    )
    assert poster.notices == []  # the channel is what refused us


async def test_group_wait_holds_new_cases(sqlite_store: Store) -> None:
    """A case is not posted before its group wait has passed."""
    now = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, _poster, _ = manager(sqlite_store, storms={"group_wait_s": 30})
    cases.clock = lambda: now
    await cases.submit(notification())
    assert await cases.dispatch_due() == 0
    cases.clock = lambda: now + timedelta(seconds=31)
    assert await cases.dispatch_due() == 1


async def test_one_request_for_several_servers_is_several_cases(
    sqlite_store: Store,
) -> None:
    """Two servers failing under one request id (one API call) are two cases."""
    cases, _, _ = manager(sqlite_store)
    first = await cases.submit(notification(instance_uuid="vm-a"))
    second = await cases.submit(notification(instance_uuid="vm-b"))
    assert second.new
    assert second.case_id != first.case_id


async def test_routes_by_az_and_host_pattern(sqlite_store: Store) -> None:
    """Routes match on AZ or host pattern, first match wins, else the default channel."""
    routes = [
        {"channel": "C-AZ2", "availability_zone": "az2"},
        {"channel": "C-RACK-B", "host_pattern": "cmp-b-*"},
    ]
    cases, poster, _ = manager(sqlite_store, routes=routes)
    await cases.submit(notification(instance_uuid="vm-1", availability_zone="az2"))
    await cases.submit(
        notification(instance_uuid="vm-2", request_id="r2", source_host="cmp-b-7")
    )
    await cases.submit(
        notification(instance_uuid="vm-3", request_id="r3", source_host="cmp-c-1")
    )
    await cases.dispatch_due()
    assert {ref.server: channel for _, ref, channel, _ in poster.posts} == {
        "vm-1": "C-AZ2",
        "vm-2": "C-RACK-B",
        "vm-3": "C-OPS",
    }


async def test_storm_becomes_one_incident(sqlite_store: Store) -> None:
    """Failures sharing a source host in the window: one parent, every VM in its thread."""
    cases, poster, incidents = manager(sqlite_store, storms={"max_concurrent": 3})
    for n in range(8):
        await cases.submit(notification(instance_uuid=f"vm-{n}", request_id=f"req-{n}"))
    assert await cases.dispatch_due() == 8
    assert len(incidents.parents) == 1
    parent_ts = "1700000000.000001"
    assert {thread for *_, thread in poster.posts} == {parent_ts}
    final = incidents.updates[-1]
    assert final.count == 8
    assert str(final.key) == "host:cmp-a-01"
    # the refreshes carry the counts, not the members (memory flat with storm size)
    assert final.members == ()
    members = (await cases.incidents.view(final.id)).members
    assert {m.status for m in members} == {"posted"}


async def test_below_threshold_posts_alone(sqlite_store: Store) -> None:
    """Two failures on one host (threshold 3) are two ordinary cases, no incident."""
    cases, poster, incidents = manager(sqlite_store)
    for n in range(2):
        await cases.submit(notification(instance_uuid=f"vm-{n}", request_id=f"req-{n}"))
    assert await cases.dispatch_due() == 2
    assert incidents.parents == []
    assert [thread for *_, thread in poster.posts] == [None, None]


async def test_late_storm_lists_earlier_cases(sqlite_store: Store) -> None:
    """Cases posted before the storm was recognised are listed in the incident, not re-posted."""
    cases, poster, incidents = manager(sqlite_store)
    for n in range(2):
        await cases.submit(notification(instance_uuid=f"vm-{n}", request_id=f"req-{n}"))
    await cases.dispatch_due()
    await cases.submit(notification(instance_uuid="vm-2", request_id="req-2"))
    await cases.dispatch_due()
    assert len(poster.posts) == 3
    assert poster.posts[-1][3] == "1700000000.000001"
    assert incidents.updates[-1].count == 3


async def test_older_failure_of_the_vm_is_not_merged_into_a_new_one(
    sqlite_store: Store,
) -> None:
    """The poller's look-back finds an old failure of the VM: it does not join today's case."""
    now = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, _, _ = manager(sqlite_store)
    fresh = await cases.submit(notification(occurred_at=now))
    old = await cases.submit(polled(occurred_at=now - timedelta(minutes=40)))
    same = await cases.submit(
        polled(migration_uuid="mig-new", migration_id="44", occurred_at=now)
    )
    assert old.new
    assert old.case_id != fresh.case_id
    assert same.case_id == fresh.case_id


def alert(starts_at: datetime, received: datetime) -> FailureReport:
    """An Alertmanager alert for the VM, parsed by the webhook's own parser."""
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "MigrationFailed", "instance_uuid": VM},
                "annotations": {"summary": "live migration failed"},
                "startsAt": starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ],
    }
    (report,) = parse_body(json.dumps(body).encode(), received)
    return report


async def test_a_lagging_alert_joins_the_notifications_case(
    sqlite_store: Store,
) -> None:
    """The alert fired 17 min after the failure and arrived 20 min after it (window 15 min):
    measured from the failure times, with the alert's lag, it is the same failure."""
    failed = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, _, _ = manager(sqlite_store)  # correlation_window_s: 900
    cases.clock = lambda: failed
    first = await cases.submit(notification(occurred_at=failed, received_at=failed))
    late = failed + timedelta(minutes=20)
    cases.clock = lambda: late
    joined = await cases.submit(alert(failed + timedelta(minutes=17), late))
    assert not joined.new
    assert joined.case_id == first.case_id


async def test_an_alert_long_after_or_before_the_failure_is_another_case(
    sqlite_store: Store,
) -> None:
    """Outside the window plus the alert's lag (2 h later), or firing before the failure
    it would report (20 min earlier): not the same failure."""
    failed = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, _, _ = manager(sqlite_store)
    cases.clock = lambda: failed
    await cases.submit(notification(occurred_at=failed, received_at=failed))
    much_later = failed + timedelta(hours=2)
    cases.clock = lambda: much_later
    assert (await cases.submit(alert(much_later, much_later))).new
    cases.clock = lambda: failed + timedelta(minutes=1)
    before = alert(failed - timedelta(minutes=20), failed + timedelta(minutes=1))
    assert (await cases.submit(before)).new


class BlockingPoster(RecordingPoster):
    """Holds every post until released: the cases stay "being worked"."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
    ) -> None:
        self.started.append(case_id)
        await self.release.wait()
        await super().post_case(case_id, ref, channel, thread_ts)


async def test_leases_only_what_it_runs_and_keeps_them_while_working(
    sqlite_store: Store,
) -> None:
    """10 due cases, 2 slots: 2 leased. The clock passes their first lease; the heartbeat
    renews them, so a second replica takes the other 8 and none of the 2."""
    t0 = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    clock = [t0]
    settings = bot_settings(storms={"max_concurrent": 2}, lease_s=30, heartbeat_s=0.05)
    busy = BlockingPoster()
    first = CaseManager(settings, sqlite_store, busy, RecordingIncidents(), owner="a")
    first.clock = lambda: clock[0]
    for n in range(10):
        await first.submit(
            notification(
                instance_uuid=f"vm-{n}", request_id=f"r-{n}", source_host=f"h{n}"
            )
        )
    working = asyncio.create_task(first.dispatch_due())
    await wait_for(lambda: len(busy.started) == 2)
    assert await first.intake.count_cases("posting") == 2
    clock[0] = t0 + timedelta(seconds=60)  # past the first lease

    async def renewed() -> bool:
        async with sqlite_store.sessions() as session:
            rows = await session.scalars(
                select(IntakeCaseRow.lease_until).where(IntakeCaseRow.owner == "a")
            )
            return all(as_utc(u) > clock[0] for u in rows.all() if u is not None)

    await wait_for(renewed)
    other = RecordingPoster()
    second = CaseManager(
        bot_settings(storms={"max_concurrent": 10}),
        sqlite_store,
        other,
        RecordingIncidents(),
        owner="b",
    )
    second.clock = lambda: clock[0]
    assert await second.dispatch_due() == 8
    assert not set(other.case_ids()) & set(busy.started)
    busy.release.set()
    assert await working == 2
    assert await first.intake.count_cases("posted") == 10


async def test_refused_credentials_end_the_case(sqlite_store: Store) -> None:
    """The cloud refuses the bot's credentials (what the engine raises): no retries."""
    cases, poster, _ = manager(sqlite_store)
    poster.fail_with = CloudUnreachable("Keystone refused the credentials (HTTP 401)")
    claim = await cases.submit(notification())
    assert await cases.dispatch_due() == 0
    status, reason, attempts = await cases.intake.outcome(claim.case_id)
    assert (status, attempts) == ("failed", 1)
    assert reason == (
        "the cloud refused the bot: Keystone refused the credentials (HTTP 401)"
    )
    assert len(poster.notices) == 1


async def test_storm_is_grouped_by_when_reported_not_when_dispatched(
    sqlite_store: Store,
) -> None:
    """A burst reported inside the window but dispatched long after it (a backlog) is still
    one incident: the window is about the failures, not about the queue."""
    reported = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases, poster, incidents = manager(sqlite_store, storms={"window_s": 60})
    cases.clock = lambda: reported
    for n in range(5):
        await cases.submit(notification(instance_uuid=f"vm-{n}", request_id=f"req-{n}"))
    drained = reported + timedelta(minutes=10)
    cases.clock = lambda: drained
    assert await cases.dispatch_due() == 5
    assert len(incidents.parents) == 1
    assert {thread for *_, thread in poster.posts} == {"1700000000.000001"}
    assert incidents.updates[-1].count == 5


async def test_a_lost_lease_stops_the_work(sqlite_store: Store) -> None:
    """Another replica holds the case now (our lease ran out): this one stops, posts nothing."""
    settings = bot_settings(lease_s=30, heartbeat_s=0.05)
    busy = BlockingPoster()
    cases = CaseManager(settings, sqlite_store, busy, RecordingIncidents(), owner="a")
    claim = await cases.submit(notification())
    working = asyncio.create_task(cases.dispatch_due())
    await wait_for(lambda: busy.started == [claim.case_id])
    async with sqlite_store.sessions.begin() as session:
        row = await session.get(IntakeCaseRow, claim.case_id)
        assert row is not None
        row.owner = "b"
    assert await asyncio.wait_for(working, 10) == 0
    busy.release.set()
    assert busy.posts == []


class GatedPoster(RecordingPoster):
    """Holds each case's post until that case is released."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
    ) -> None:
        self.started.append(case_id)
        await self.gates.setdefault(case_id, asyncio.Event()).wait()
        await super().post_case(case_id, ref, channel, thread_ts)

    def release(self, case_id: str) -> None:
        self.gates.setdefault(case_id, asyncio.Event()).set()


async def test_a_lapsed_lease_is_not_leased_to_itself_again(
    sqlite_store: Store,
) -> None:
    """The heartbeat was late (a starved loop) and case A's lease ran out while this
    replica still works it: the next lease pass renews A, and A is not posted twice."""
    t0 = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    clock = [t0]
    # the heartbeat never comes within the test: only the clock moves past the lease
    settings = bot_settings(lease_s=30, heartbeat_s=29)
    gated = GatedPoster()
    cases = CaseManager(settings, sqlite_store, gated, RecordingIncidents(), owner="a")
    cases.clock = lambda: clock[0]
    a = await cases.submit(notification(instance_uuid="vm-a", source_host="h-a"))
    b = await cases.submit(
        notification(instance_uuid="vm-b", request_id="r-b", source_host="h-b")
    )
    working = asyncio.create_task(cases.dispatch_due())
    await wait_for(lambda: sorted(gated.started) == sorted([a.case_id, b.case_id]))
    clock[0] = t0 + timedelta(seconds=31)  # A's lease has run out, A still running

    async def a_renewed() -> bool:
        async with sqlite_store.sessions() as session:
            row = await session.get(IntakeCaseRow, a.case_id)
            return row is not None and as_utc(row.lease_until) > clock[0]

    gated.release(b.case_id)  # B done: a slot frees, the loop leases again
    await wait_for(a_renewed)
    gated.release(a.case_id)
    assert await asyncio.wait_for(working, 10) == 2
    assert gated.started.count(a.case_id) == 1
    assert [p[0] for p in gated.posts].count(a.case_id) == 1


async def test_a_store_that_fails_after_the_post_never_posts_the_case_twice(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack has the case; recording it fails ('database is locked'): the bookkeeping is
    retried, and when it never lands in this pass the next lease records it instead of
    posting the case again (seen in CI: a broker restart, a locked SQLite, four re-posts)."""
    cases, poster, _ = manager(sqlite_store)
    monkeypatch.setattr("bot.cases.manager._RECORD_BACKOFF_S", 0.0)
    real_finish = cases.intake.finish
    failures = {"left": 5}  # every attempt of the first pass

    async def locked_once(*args: object, **kw: object) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError(
                "UPDATE intake_cases", {}, Exception("database is locked")
            )
        await real_finish(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cases.intake, "finish", locked_once)
    claim = await cases.submit(notification())
    await cases.dispatch_due()
    assert poster.case_ids() == [claim.case_id]
    assert await cases.intake.count_cases("posted") == 0
    # the lease runs out; the next pass leases it again and only records it
    cases.clock = lambda: utcnow() + timedelta(minutes=5)  # type: ignore[method-assign]
    await cases.dispatch_due()
    assert poster.case_ids() == [claim.case_id]
    assert await cases.intake.count_cases("posted") == 1
