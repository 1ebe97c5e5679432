"""Benchmark: storms of signed webhook reports against the Slack stand-in at Slack's limits,
and the ack latency of slash commands at 10/s.

Goals (bench/README.md, issue 12):
- ``few``: 1,000 reports about 40 failed migrations: 0 lost, 0 dropped, one incident,
  drained within 2 minutes of the last report, peak RSS <= 150 MB;
- ``many``: 1,000 distinct VM failures of 3 causes: the incident and its 3 group replies
  complete within 2 minutes of the last report, every VM's diagnosis retrievable;
- ``ack``: ack p99 < 100 ms at 10 slash commands/s.

The bot's real parts run in this process: the webhook (HMAC-signed POSTs over loopback),
the case runner with its store (PostgreSQL by default: the storm's cause groups and
members are rows there, bot/store/storm_repo.py), the Slack writer, pacer and storm board, the
Bolt app in Socket Mode for ``ack``. The stand-in (tests/fakeslack) enforces Slack's limits:
chat.postMessage 1/s per channel (burst 2), chat.update 50/min for the workspace; beyond
them it answers 429. The diagnoser is NOT the engine: each VM's verdict comes from a table
after ``--diagnosis-s`` (default 0.3 s, a warm diagnosis at the dependency bound with 50 ms
round trips, bench_bound.py), so the storm measures the bot, not the sim on 2 cores.

    .venv/bin/python bench/bench_storm.py [--only few many ack] [--reports 1000]
        [--duration 60] [--diagnosis-s 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from pydantic import SecretStr
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakeslack

from bot.app import Secrets, build_client, build_services, start_bot
from bot.cases.manager import CaseManager
from bot.intake.webhook import (
    PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_webhook_app,
    sign,
    start_webhook,
)
from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.services import OnEvent
from bot.settings import BotSettings
from bot.store import Store
from bot.store.intake_models import IncidentRow, IntakeCaseRow
from bot.store.storm_models import StormBoardRow
from diagnostics.model import Diagnosis, MigrationRef, VmNotFound
from tests.bot.test_storm_board import diagnosis_of
from tests.fakeslack import FakeSlack

OPS = "C0OPS0001"
SECRET = "bench-webhook-secret"
SECRETS = Secrets(
    bot_token=SecretStr("xoxb-bench"),
    app_token=SecretStr("xapp-bench"),
    signing_secret=SecretStr("bench-signing-secret"),
    routing_key=None,
)
DRAIN_GOAL_S = 120.0
RSS_GOAL_MB = 150.0
ACK_GOAL_MS = 100.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def store_url(kind: str) -> AsyncIterator[str]:
    """A fresh database: PostgreSQL (as replicas share it), or a SQLite file."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bot.sqlite"
        return
    name = f"md_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class TableDiagnoser:
    """NOT the engine: a verdict per VM from a table, after a fixed time."""

    causes: dict[str, str]
    seconds: float
    calls: int = 0

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        self.calls += 1
        await asyncio.sleep(self.seconds)  # the diagnosis's round trips
        cause = self.causes.get(ref.server)
        if cause is None:
            raise VmNotFound(ref.server)
        return diagnosis_of(ref.server, cause)


class GaveUp(logging.Handler):
    """Counts the writer's "gave up" lines: each is a write that never landed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "gave up" in message:
            self.count += 1
            self.lines.append(message)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(fake: FakeSlack, store_url: str, concurrency: int) -> BotSettings:
    return BotSettings.model_validate(
        {
            "slack": {
                "api_base_url": fake.api_url,
                "default_channel": OPS,
                "max_concurrent_diagnoses": concurrency,
                "post_rate_per_s": 1.0,
                "post_burst": 1,
            },
            "store": {"url": store_url},
            "intake": {
                "storms": {
                    "group_wait_s": 2,
                    "max_concurrent": concurrency,
                    "window_s": 300,
                }
            },
        }
    )


def real_limits() -> FakeSlack:
    fake = FakeSlack(post_rate_per_s=1.0, post_burst=2, update_rate_per_min=50)
    fake.world.add_channel(OPS, "ops")
    return fake


async def _send(
    session: aiohttp.ClientSession, url: str, report: dict[str, Any]
) -> int:
    body = json.dumps(report).encode()
    stamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(SECRET, stamp, body),
        "Content-Type": "application/json",
    }
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def storm(
    name: str,
    reports: list[dict[str, Any]],
    causes: dict[str, str],
    *,
    duration_s: float,
    diagnosis_s: float,
    concurrency: int,
    store_kind: str,
) -> dict[str, Any]:
    async with store_url(store_kind) as url:
        return await _storm(
            name, reports, causes, url, duration_s, diagnosis_s, concurrency
        )


async def _storm(
    name: str,
    reports: list[dict[str, Any]],
    causes: dict[str, str],
    db_url: str,
    duration_s: float,
    diagnosis_s: float,
    concurrency: int,
) -> dict[str, Any]:
    """Send ``reports`` evenly over ``duration_s``; wait until everything is in Slack."""
    gave_up = GaveUp()
    logging.getLogger("bot").addHandler(gave_up)
    fake = real_limits()
    await fake.start()
    settings = settings_for(fake, db_url, concurrency)
    store = await Store.open(db_url)
    client = build_client(settings, SECRETS.bot_token)
    services = build_services(
        settings,
        diagnoser=TableDiagnoser(causes, diagnosis_s),
        store=store,
        client=client,
        routing_key=None,
    )
    poster = SlackCasePoster(client, services)
    cases = CaseManager(
        settings, store, poster, SlackIncidentPoster(poster.writer, poster.storms)
    )
    runner, port = await start_webhook(
        build_webhook_app(cases, cases.intake, SECRET), "127.0.0.1", 0
    )
    stop = asyncio.Event()
    loop_task = asyncio.create_task(cases.run(stop, poll_s=0.5))
    url = f"http://127.0.0.1:{port}{PATH}"
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        sends = []
        for n, report in enumerate(reports):
            due = started + duration_s * n / len(reports)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sends.append(asyncio.create_task(_send(session, url, report)))
        for status in await asyncio.gather(*sends, return_exceptions=True):
            statuses[status if isinstance(status, int) else -1] += 1
    last_report = time.monotonic()
    expected_cases = len({r["migration_uuid"] for r in reports})
    done_at = await _drained(cases, poster, expected_cases)
    drain_s = done_at - last_report
    # what a person finds in Slack, and in the store
    async with store.sessions() as session:
        incidents = list((await session.scalars(select(IncidentRow))).all())
        case_ids = list((await session.scalars(select(IntakeCaseRow.case_id))).all())
    retrievable = 0
    for case_id in case_ids:
        case = await store.get_case(case_id)
        if case and case.thread_ts and await store.latest_runs(case_id, limit=1):
            retrievable += 1
    top = [m for m in fake.history(OPS) if m.thread_ts is None]
    thread = fake.thread(OPS, top[0].ts) if top else []
    calls = fake.calls()
    result = {
        "storm": name,
        "reports": len(reports),
        "accepted": statuses[202],
        "lost": len(reports) - statuses[202],
        "cases": len(case_ids),
        "expected cases": expected_cases,
        "incidents": len(incidents),
        "group replies": sum(1 for m in thread if not m.files),
        "list files": sum(1 for m in thread if m.files),
        "messages posted": sum(
            1 for c in calls if c.method == "chat.postMessage" and c.ok
        ),
        "thread + parent": len(thread) + len(top),
        "updates": sum(1 for c in calls if c.method == "chat.update" and c.ok),
        "429s": sum(1 for c in calls if c.status == 429),
        "dropped": gave_up.count,
        "retrievable": retrievable,
        "send s": round(last_report - started, 1),
        "drain s": round(drain_s, 1),
        "peak RSS MB": round(peak_rss_mb(), 1),
        "parent": top[0].text[:200] if top else None,
    }
    stop.set()
    await loop_task
    await poster.storms.close()
    await runner.cleanup()
    await store.close()
    await fake.stop()
    logging.getLogger("bot").removeHandler(gave_up)
    return result


async def _drained(cases: CaseManager, poster: SlackCasePoster, expected: int) -> float:
    """When every case is posted and the storm's messages show them all."""
    while True:
        async with cases.intake.store.sessions() as session:
            posted = await session.scalar(
                select(func.count())
                .select_from(IntakeCaseRow)
                .where(IntakeCaseRow.status == "posted")
            )
        async with cases.intake.store.sessions() as session:
            board_ids = list((await session.scalars(select(StormBoardRow.id))).all())
        boards = [await poster.storms.repo.board(b) for b in board_ids]
        storms = [b for b in boards if b is not None]
        if posted == expected and all(s.settled >= s.expected for s in storms):
            for s in storms:
                await poster.storms.flush(s.channel, s.parent_ts)
            return time.monotonic()
        await asyncio.sleep(0.25)  # a benchmark polling for its end, not a test


def few_failures(total: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``total`` reports about 40 failed migrations (each reported ~25 times), 2 causes."""
    vms = [f"vm-few-{n:03d}" for n in range(40)]
    causes = {
        vm: "libvirt_tls" if n < 30 else "insufficient_resources"
        for n, vm in enumerate(vms)
    }
    reports = [
        {
            "instance_uuid": vms[i % 40],
            "migration_uuid": f"mig-few-{i % 40:03d}",
            "source_host": "cmp-a-01",
            "dest_host": "cmp-a-02",
            "kind": "live-migration",
            "status": "failed",
            "error": "libvirtError: unable to connect",
        }
        for i in range(total)
    ]
    return reports, causes


def many_failures(total: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``total`` distinct VM failures from one host, of 3 causes."""
    kinds = ["libvirt_tls", "insufficient_resources", "port_binding"]
    vms = [f"vm-many-{n:04d}" for n in range(total)]
    causes = {vm: kinds[n % 3] for n, vm in enumerate(vms)}
    reports = [
        {
            "instance_uuid": vm,
            "migration_uuid": f"mig-many-{n:04d}",
            "source_host": "cmp-a-01",
            "kind": "live-migration",
            "status": "failed",
        }
        for n, vm in enumerate(vms)
    ]
    return reports, causes


async def ack_latency(
    rate: float, seconds: float, diagnosis_s: float, store_kind: str
) -> dict[str, Any]:
    async with store_url(store_kind) as url:
        return await _ack_latency(rate, seconds, diagnosis_s, url)


async def _ack_latency(
    rate: float, seconds: float, diagnosis_s: float, db_url: str
) -> dict[str, Any]:
    """Slash commands at ``rate``/s into the real Bolt app (Socket Mode); ack latencies."""
    fake = real_limits()
    await fake.start()
    settings = settings_for(fake, db_url, 8)
    store = await Store.open(db_url)
    client = build_client(settings, SECRETS.bot_token)
    vms = {f"web-{n:03d}": "libvirt_tls" for n in range(int(rate * seconds))}
    services = build_services(
        settings,
        diagnoser=TableDiagnoser(vms, diagnosis_s),
        store=store,
        client=client,
        routing_key=None,
    )
    bot = await start_bot(services, client, SECRETS)
    started = time.monotonic()
    pushes = []
    for n, vm in enumerate(vms):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        pushes.append(
            asyncio.create_task(
                fake.slash("/migrate-diag", vm, user="U0OPER001", channel=OPS)
            )
        )
    await asyncio.gather(*pushes)
    latencies = sorted(a.latency_s * 1000 for a in fake.socket.acks)
    await (
        services.tasks.cancel_all()
    )  # the posts queue behind Slack's 1/s; not measured
    await bot.close()
    await store.close()
    await fake.stop()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "commands": len(latencies),
        "rate/s": rate,
        "p50 ms": round(statistics.median(latencies), 1),
        "p99 ms": round(p99, 1),
        "max ms": round(latencies[-1], 1),
    }


def _ratio(value: float, goal: float) -> str:
    return f"{value / goal:.2f}x of goal"


def report(results: list[dict[str, Any]]) -> None:
    out = sys.stdout
    for r in results:
        out.write("\n")
        for key, value in r.items():
            out.write(f"  {key:>16}: {value}\n")
        if "drain s" in r:
            out.write(f"  {'drain/goal':>16}: {_ratio(r['drain s'], DRAIN_GOAL_S)}\n")
            out.write(f"  {'RSS/goal':>16}: {_ratio(r['peak RSS MB'], RSS_GOAL_MB)}\n")
            per_case = r["messages posted"] / max(1, r["cases"])
            out.write(f"  {'msgs per case':>16}: {per_case:.3f}\n")
        if "p99 ms" in r:
            out.write(f"  {'p99/goal':>16}: {_ratio(r['p99 ms'], ACK_GOAL_MS)}\n")


async def main(args: argparse.Namespace) -> None:
    results = []
    if "few" in args.only:
        reports, causes = few_failures(args.reports)
        results.append(
            await storm(
                "few: ~40 failures",
                reports,
                causes,
                duration_s=args.duration,
                diagnosis_s=args.diagnosis_s,
                concurrency=args.concurrency,
                store_kind=args.store,
            )
        )
    if "many" in args.only:
        reports, causes = many_failures(args.reports)
        results.append(
            await storm(
                "many: distinct VMs, 3 causes",
                reports,
                causes,
                duration_s=args.duration,
                diagnosis_s=args.diagnosis_s,
                concurrency=args.concurrency,
                store_kind=args.store,
            )
        )
    if "ack" in args.only:
        results.append(
            await ack_latency(10.0, args.ack_seconds, args.diagnosis_s, args.store)
        )
    report(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["few", "many", "ack"])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--diagnosis-s", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--ack-seconds", type=float, default=30.0)
    parser.add_argument(
        "--store", choices=["postgresql", "sqlite"], default="postgresql"
    )
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(parser.parse_args()))
