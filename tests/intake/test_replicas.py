"""Several bot replicas on one PostgreSQL database: every failure posted exactly once."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cases.manager import CaseManager
from bot.cases.report import FailureReport, ReportSource
from bot.store.intake_models import IntakeCaseRow
from bot.store.intake_repo import IntakeRepo
from bot.store.models import CaseRow
from bot.store.repo import Store
from tests.fakeslack.server import FakeSlack
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)
from tests.intake.harness import Nova, broker, start_replica

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)


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


REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def replica_process(
    store_url: str, slack: FakeSlack, owner: str, log_dir: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A replica as its own process (tests/intake/replica_proc.py); killed at the end."""
    stderr = (log_dir / f"{owner}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.intake.replica_proc",
        "--store",
        store_url,
        "--slack",
        slack.api_url,
        "--owner",
        owner,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        stderr.close()


async def ready(proc: asyncio.subprocess.Process, log: Path) -> None:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.startswith(b"ready"), f"see {log}"


async def test_two_replicas_start_together_on_an_empty_database(
    pg_url: str, tmp_path: Path
) -> None:
    """Both run the migrations at once: the advisory lock lets one upgrade, both come up."""
    slack = FakeSlack()
    await slack.start()
    try:
        async with (
            replica_process(pg_url, slack, "a", tmp_path) as a,
            replica_process(pg_url, slack, "b", tmp_path) as b,
        ):
            await asyncio.gather(
                ready(a, tmp_path / "a.log"), ready(b, tmp_path / "b.log")
            )
            assert a.returncode is None
            assert b.returncode is None
    finally:
        await slack.stop()


async def test_kill_9_of_a_replica_its_cases_are_finished_by_the_survivor(
    pg_url: str, tmp_path: Path
) -> None:
    """10 due cases, two replica processes; one is killed -9 mid-diagnosis: the survivor
    finishes all 10 within 60 s, each case with one parent (no duplicate thread).

    The scripted diagnosis takes 2 s, the lease 2 s renewed every 0.4 s: without the
    heartbeat the survivor would take live cases too.
    """
    slack = FakeSlack(post_rate_per_s=50, post_burst=50)
    await slack.start()
    slack.world.add_channel("C-OPS", "ops")
    try:
        async with (
            replica_process(pg_url, slack, "doomed", tmp_path) as doomed,
            replica_process(pg_url, slack, "survivor", tmp_path) as survivor,
        ):
            await asyncio.gather(
                ready(doomed, tmp_path / "doomed.log"),
                ready(survivor, tmp_path / "survivor.log"),
            )
            store = await Store.open(pg_url)
            intake = IntakeRepo(store)
            submitter = CaseManager(
                bot_settings(), store, RecordingPoster(), RecordingIncidents()
            )
            for n in range(10):
                await submitter.submit(
                    FailureReport(
                        source=ReportSource.WEBHOOK,
                        instance_uuid=vm(100 + n),
                        request_id=f"req-kill-{n}",
                        source_host=f"cmp-k-{n}",
                    )
                )

            async def doomed_is_mid_diagnosis() -> bool:
                """It holds a case whose parent is already in Slack."""
                held = await holding(store, "doomed")
                return any(
                    row.parent_ts for row in await cases_of(store) if row.id in held
                )

            await wait_for(doomed_is_mid_diagnosis, timeout=30)
            held_at_kill = await holding(store, "doomed")
            doomed.kill()
            await doomed.wait()
            killed_at = asyncio.get_running_loop().time()

            async def all_posted() -> bool:
                return await intake.count_cases("posted") == 10

            await wait_for(all_posted, timeout=60)
            log.info(
                "kill -9 with %d cases held: all 10 posted %.1f s later",
                len(held_at_kill),
                asyncio.get_running_loop().time() - killed_at,
            )
            rows = await cases_of(store)
            assert len(rows) == 10
            parents = [row.parent_ts for row in rows]
            assert None not in parents
            top_level = [m.ts for m in slack.world.history("C-OPS")]
            assert sorted(top_level) == sorted(parents), "one parent per case"
            for (
                case_id
            ) in held_at_kill:  # what the dead one held, the survivor finished
                assert await owner_of(store, case_id) == "survivor"
                assert await store.latest_runs(case_id, limit=5)
            for row in rows:
                if row.id not in held_at_kill:  # worked once: leases held while working
                    assert len(await store.latest_runs(row.id, limit=5)) == 1
            assert survivor.returncode is None
            await store.close()
    finally:
        await slack.stop()


async def holding(store: Store, owner: str) -> set[str]:
    async with store.sessions() as session:
        rows = await session.scalars(
            select(IntakeCaseRow.case_id).where(
                IntakeCaseRow.owner == owner, IntakeCaseRow.status == "posting"
            )
        )
        return set(rows.all())


async def owner_of(store: Store, case_id: str) -> str | None:
    async with store.sessions() as session:
        row = await session.get(IntakeCaseRow, case_id)
        return row.owner if row else None


async def cases_of(store: Store) -> list[CaseRow]:
    async with store.sessions() as session:
        return list((await session.scalars(select(CaseRow))).all())
