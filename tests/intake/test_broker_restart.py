"""A broker restart in the middle of a stream of Nova notifications: every failure is one case.

Nova publishes with oslo.messaging's own Notifier; each failed migration is also recorded
where ``GET /os-migrations`` would show it (the poller's view of Nova's database). The
broker is restarted with ``rabbitmqctl stop_app`` / ``start_app`` when
``MIGRATE_DIAG_TEST_BROKER_RESTART=stop_app`` (``.ci/run`` sets it: the broker there is
CI's own). Elsewhere (a broker shared with other work) the restart is simulated by what it
does to the bot: Nova's non-durable exchange is deleted, which drops the bot's binding,
and the bot's connection is closed from the broker's side.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select

from bot.intake.poller import MigrationsPoller
from bot.intake.runner import poller_interval
from bot.store.intake_models import DedupeKeyRow
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)
from tests.intake.harness import (
    AMQP_URL,
    Broker,
    Nova,
    Replica,
    broker,
    close_connection_server_side,
    rabbitmqctl,
    start_replica,
)

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

FAILURES = 30
RESTART_AFTER = 10  # failures handled by the bus before the broker goes away


def vm(n: int) -> str:
    return f"33333333-0000-4000-8000-{n:012d}"


class NovaMigrations:
    """The failed migrations as Nova's ``GET /os-migrations`` lists them (2.59 fields)."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def fail(self, n: int) -> None:
        now = datetime.now(UTC)
        with self._lock:
            self._records.append(
                {
                    "id": 9000 + n,
                    "uuid": f"44444444-0000-4000-8000-{n:012d}",
                    "instance_uuid": vm(n),
                    "status": "error",
                    "migration_type": "live-migration",
                    "source_compute": f"cmp-{n}",
                    "dest_compute": f"cmp-{n}-b",
                    "created_at": now.isoformat(),
                    "updated_at": now.isoformat(),
                }
            )

    def list_migrations(
        self, *, status: str, since: datetime, page_size: int
    ) -> Iterable[Mapping[str, Any]]:
        with self._lock:
            return [
                r
                for r in self._records
                if r["status"] == status
                and datetime.fromisoformat(r["updated_at"]) >= since
            ]


def restart_broker(names: Broker, connection_name: str) -> str:
    """Restart the broker (or simulate it); returns how."""
    if os.environ.get("MIGRATE_DIAG_TEST_BROKER_RESTART") == "stop_app":
        rabbitmqctl("stop_app")
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        return "stop_app/start_app"

    async def drop_exchange() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        await channel.exchange_delete(names.exchange)
        await connection.close()

    asyncio.run(drop_exchange())
    assert close_connection_server_side(connection_name)
    return "exchange deleted + connection closed"


async def test_restart_mid_stream_every_failure_one_case(sqlite_url: str) -> None:
    poster, incidents = RecordingPoster(), RecordingIncidents()
    migrations = NovaMigrations()
    name = f"restart-{uuid.uuid4().hex[:6]}"
    async with broker() as names:
        replica = await start_replica(
            sqlite_url, names, bot_settings(), poster, incidents, name
        )
        poller = MigrationsPoller(
            migrations, replica.cases, replica.cases.intake, initial_lookback_s=600
        )
        stop_polling = asyncio.Event()
        polling = asyncio.create_task(poller.run(stop_polling, interval_s=0.5))
        nova = Nova(names)

        async def publish() -> None:
            for n in range(FAILURES):
                migrations.fail(n)
                await nova.send(
                    "instance.live_migration_rollback.end",
                    uuid=vm(n),
                    host=f"cmp-{n}",
                    request_id=f"req-restart-{n}",
                )

        try:
            publishing = asyncio.create_task(publish())
            await wait_for(lambda: replica.consumer.handled >= RESTART_AFTER)
            how = await asyncio.to_thread(restart_broker, names, name)
            await asyncio.wait_for(publishing, 120)
            await wait_for(lambda: replica.consumer.reconnects >= 1, timeout=60)

            async def all_posted() -> bool:
                return await replica.cases.intake.count_cases("posted") == FAILURES

            await wait_for(all_posted, timeout=60)
            assert await replica.cases.intake.count_cases() == FAILURES
            servers = sorted(ref.server for _, ref, _, _ in poster.posts)
            assert servers == [vm(n) for n in range(FAILURES)], "one post per failure"
            # after the restart the bus is bound again: a new failure arrives by it
            handled_before = replica.consumer.handled
            await nova.send(
                "instance.resize.error", uuid=vm(FAILURES), request_id="req-after"
            )
            await wait_for(lambda: replica.consumer.handled > handled_before)
            sources = [await _sources(replica, c) for c in poster.case_ids()]
            by_bus = sum("notification" in seen for seen in sources)
            log.info(
                "%s: %d failures, %d seen on the bus, %d only by the poller",
                how,
                FAILURES,
                by_bus,
                FAILURES - by_bus,
            )
        finally:
            stop_polling.set()
            await polling
            nova.close()
            await replica.shutdown()


async def _sources(replica: Replica, case_id: str) -> set[str]:
    async with replica.store.sessions() as session:
        rows = await session.scalars(
            select(DedupeKeyRow.sources).where(DedupeKeyRow.case_id == case_id)
        )
        return {source for sources in rows.all() for source in sources}


def test_backstop_interval_is_the_default_with_notifications() -> None:
    """Notifications on and the poller unset: the poller runs, at the low backstop rate."""
    on = bot_settings(notifications={"enabled": True})
    assert poller_interval(on.intake) == on.intake.poller.backstop_interval_s == 300
    assert poller_interval(bot_settings().intake) is None
    off = bot_settings(notifications={"enabled": True}, poller={"enabled": False})
    assert poller_interval(off.intake) is None
    forced = bot_settings(poller={"enabled": True, "interval_s": 30})
    assert poller_interval(forced.intake) == 30


async def test_what_the_bus_dropped_the_poller_finds(sqlite_url: str) -> None:
    """Published while the bot's binding is gone: not on the bus, found by the poller, once;
    after the bot's reconnect the bus delivers again and nothing is doubled."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    migrations = NovaMigrations()
    name = f"dropped-{uuid.uuid4().hex[:6]}"
    async with broker() as names:
        replica = await start_replica(
            sqlite_url, names, bot_settings(), poster, incidents, name
        )
        poller = MigrationsPoller(
            migrations, replica.cases, replica.cases.intake, initial_lookback_s=600
        )
        nova = Nova(names)
        try:
            connection = await aio_pika.connect(AMQP_URL)
            channel = await connection.channel()
            await channel.exchange_delete(names.exchange)  # the binding goes with it
            await connection.close()
            for n in range(3):  # oslo declares the exchange again; nothing routes to us
                migrations.fail(n)
                await nova.send(
                    "instance.live_migration_rollback.end",
                    uuid=vm(n),
                    request_id=f"req-drop-{n}",
                )
            assert replica.consumer.handled == 0
            assert await poller.poll_once() == 3
            await wait_for(lambda: len(poster.posts) == 3)
            assert await asyncio.to_thread(close_connection_server_side, name)
            await wait_for(lambda: replica.consumer.reconnects >= 1, timeout=20)
            migrations.fail(3)
            await nova.send(
                "instance.live_migration_rollback.end", uuid=vm(3), request_id="req-3"
            )
            await wait_for(lambda: replica.consumer.handled == 1)
            assert (
                await poller.poll_once() == 4
            )  # all four again, absorbed by the dedupe
            await wait_for(lambda: len(poster.posts) == 4)
            assert await replica.cases.intake.count_cases() == 4
            assert sorted(ref.server for _, ref, _, _ in poster.posts) == [
                vm(n) for n in range(4)
            ]
        finally:
            nova.close()
            await replica.shutdown()
