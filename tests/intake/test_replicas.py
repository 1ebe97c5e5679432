"""Several bot replicas on one PostgreSQL database: every failure posted exactly once."""

from __future__ import annotations

import asyncio

import pytest

from bot.cases.manager import CaseManager
from bot.cases.report import FailureReport, ReportSource
from bot.store.repo import Store
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)
from tests.intake.harness import Nova, broker, start_replica

pytestmark = pytest.mark.integration


def vm(n: int) -> str:
    return f"22222222-0000-4000-8000-{n:012d}"


async def test_concurrent_claims_on_postgresql_make_one_case_each(pg_url: str) -> None:
    """Two replicas racing on the same reports (bus and poller) create one case per failure."""
    stores = [await Store.open(pg_url), await Store.open(pg_url)]
    posters = [RecordingPoster(), RecordingPoster()]
    managers = [
        CaseManager(bot_settings(), store, poster, RecordingIncidents(), owner=f"r{i}")
        for i, (store, poster) in enumerate(zip(stores, posters, strict=True))
    ]
    reports = []
    for n in range(15):
        reports.append(
            FailureReport(
                source=ReportSource.NOTIFICATION,
                instance_uuid=vm(n),
                request_id=f"req-{n}",
                source_host=f"cmp-{n}",
            )
        )
        reports.append(
            FailureReport(
                source=ReportSource.POLLER,
                instance_uuid=vm(n),
                migration_uuid=f"mig-{n}",
                migration_id=str(n),
                source_host=f"cmp-{n}",
            )
        )
    claims = await asyncio.gather(
        *(
            m.submit(r) for r in reports for m in managers
        )  # every report, on both replicas
    )
    assert sum(c.new for c in claims) == 15
    assert len({c.case_id for c in claims}) == 15
    posted = await asyncio.gather(*(m.dispatch_due() for m in managers))
    assert sum(posted) == 15
    servers = [ref.server for p in posters for _, ref, _, _ in p.posts]
    assert sorted(servers) == [vm(n) for n in range(15)]
    for store in stores:
        await store.close()


async def test_two_replicas_one_queue_post_each_failure_once(pg_url: str) -> None:
    """Two bot processes share the queue and the database; duplicates included, one post each."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    async with broker() as names:
        replicas = [
            await start_replica(
                pg_url, names, bot_settings(), poster, incidents, f"r{i}", prefetch=2
            )
            for i in range(2)
        ]
        nova = Nova(names)
        try:
            for n in range(20):
                for _ in range(2):  # every notification published twice
                    await nova.send(
                        "instance.live_migration_rollback.end",
                        uuid=vm(n),
                        host=f"cmp-{n}",
                        request_id=f"req-r-{n}",
                    )
            await wait_for(
                lambda: sum(r.consumer.handled for r in replicas) == 40, timeout=20
            )

            async def all_posted() -> bool:
                return await replicas[0].cases.intake.count_cases("posted") == 20

            await wait_for(all_posted, timeout=20)
            assert all(r.consumer.handled > 0 for r in replicas), (
                "both replicas consumed"
            )
            servers = sorted(ref.server for _, ref, _, _ in poster.posts)
            assert servers == [vm(n) for n in range(20)]
        finally:
            nova.close()
            for replica in replicas:
                await replica.shutdown()
