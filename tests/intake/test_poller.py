"""The /os-migrations poller through openstacksdk against the simulated region (real HTTP)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from openstack.config.loader import OpenStackConfig

from bot.cases.manager import CaseManager
from bot.intake.amqp import NotificationConsumer
from bot.intake.poller import MigrationsPoller, SdkMigrationLister
from bot.store.repo import Store
from sim.region.state import server_by_name
from sim.testing import api_client, start_region
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)
from tests.intake.harness import AMQP_URL, broker

pytestmark = pytest.mark.integration

SCENARIO = "libvirt-tls-expired-cert"


def sdk(region: Any) -> openstack.connection.Connection:
    config = OpenStackConfig(config_files=[str(region.paths["clouds"])]).get_one(
        cloud="sim"
    )
    return openstack.connection.Connection(config=config)


async def test_poller_reports_failed_migrations_once(
    tmp_path: Path, sqlite_store: Store
) -> None:
    """The scenario's failed migration becomes one case; polling again adds nothing."""
    poster = RecordingPoster()
    cases = CaseManager(bot_settings(), sqlite_store, poster, RecordingIncidents())
    async with start_region(SCENARIO, tmp_path) as region:
        conn = sdk(region)
        poller = MigrationsPoller(
            SdkMigrationLister(conn), cases, cases.intake, page_size=1
        )
        assert await poller.poll_once() >= 1
        first_mark = await cases.intake.watermark("os-migrations")
        assert first_mark is not None
        await poller.poll_once()
        await cases.dispatch_due()
        web02 = server_by_name(region.state, "web-02")["id"]
        assert [ref.server for _, ref, _, _ in poster.posts] == [web02]
        assert poster.posts[0][1].migration_id  # the migration's uuid from the record
        conn.close()


class FakeLister:
    """Records the queries; answers from a fixed list (status filter applied)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.queries: list[tuple[str, datetime]] = []

    def list_migrations(
        self, *, status: str, since: datetime, page_size: int
    ) -> Iterable[Mapping[str, Any]]:
        self.queries.append((status, since))
        return [r for r in self.records if r["status"] == status]


async def test_watermark_overlap_and_statuses(sqlite_store: Store) -> None:
    """Each failure status is queried from the persisted watermark minus the overlap."""
    now = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
    cases = CaseManager(
        bot_settings(), sqlite_store, RecordingPoster(), RecordingIncidents()
    )
    record = {
        "id": 7,
        "uuid": "mig-7",
        "server_id": "vm-7",
        "status": "error",
        "migration_type": "migration",
        "source_compute": "cmp-1",
        "dest_compute": "cmp-2",
        "updated_at": "2026-08-21T10:05:00.000000",
    }
    lister = FakeLister([record])
    poller = MigrationsPoller(
        lister, cases, cases.intake, overlap_s=60, clock=lambda: now
    )
    assert await poller.poll_once() == 1
    assert [q[0] for q in lister.queries] == ["error", "failed", "cancelled"]
    assert lister.queries[0][1] == now - timedelta(hours=1)
    # the record's updated_at is newer than our clock: it becomes the watermark
    assert await cases.intake.watermark("os-migrations") == datetime(
        2026, 8, 21, 10, 5, tzinfo=UTC
    )
    lister.queries.clear()
    assert await poller.poll_once() == 1  # seen again through the overlap...
    assert lister.queries[0][1] == datetime(2026, 8, 21, 10, 4, tzinfo=UTC)
    assert await cases.intake.count_cases() == 1  # ...and absorbed by the dedupe


async def test_bus_and_poller_see_one_failure(
    tmp_path: Path, sqlite_store: Store
) -> None:
    """A migration failed through the API: the sim's notification and the poller, one case."""
    poster = RecordingPoster()
    cases = CaseManager(bot_settings(), sqlite_store, poster, RecordingIncidents())
    # names of its own on the shared broker: no other region's notifications reach it
    async with (
        broker() as names,
        start_region(
            SCENARIO, tmp_path, amqp_url=AMQP_URL,
            amqp_exchange=names.exchange, amqp_topic=names.topic,
        ) as region,
    ):  # fmt: skip
        consumer = NotificationConsumer(names.config("md-watch"), cases, cases.intake)
        await consumer.start()
        try:
            server = server_by_name(region.state, "web-02")["id"]
            async with api_client(region) as api:
                status, _, _ = await api.post(
                    f"/compute/v2.1/servers/{server}/action",
                    {"os-migrateLive": {"host": "cmp-a-02", "block_migration": "auto"}},
                    version="2.96",
                )
            assert status == 202
            await region.wait_idle()

            async def ours() -> bool:
                mine = [p for p in poster.posts if p[1].server == server]
                if not mine:
                    await cases.dispatch_due()
                return bool(mine)

            await wait_for(ours, timeout=15)
            conn = sdk(region)
            # look back 10 min: the scenario's older failure of web-02 (40 min ago) stays out
            poller = MigrationsPoller(
                SdkMigrationLister(conn), cases, cases.intake, initial_lookback_s=600
            )
            assert await poller.poll_once() == 1
            await cases.dispatch_due()
            conn.close()
            assert [p[1].server for p in poster.posts].count(server) == 1
            _, keys = await cases.intake.case_state(poster.posts[0][0])
            assert any(k.startswith("migration:") for k in keys), (
                keys
            )  # the poller's record joined
        finally:
            await consumer.stop()  # broker() deletes the queues and exchanges
