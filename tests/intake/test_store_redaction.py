"""The redaction corpus sent through every intake path never lands in any row of the store.

Planted in a notification published with oslo.messaging's own Notifier over the real
RabbitMQ (a Keystone token in the context, which oslo flattens to ``_context_auth_token``;
the corpus in the fault's ``exception_message`` and traceback), in a malformed message
(dead-lettered), in a signed webhook body's error text and in a malformed webhook body,
in a diagnosis stored as a run and in an escalation's status. Then every column of every
table is read back, on SQLite (and its file, bytes included) and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aio_pika
import aiohttp
import pytest
from sqlalchemy import select

from bot.intake.webhook import (
    PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_webhook_app,
    sign,
    start_webhook,
)
from bot.store.intake_repo import IntakeRepo
from bot.store.models import Base
from bot.store.repo import Store
from tests.bot.support import scripted_diagnosis
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)
from tests.intake.harness import AMQP_URL, Nova, broker, start_replica
from tests.intake.samples import sample
from tests.redaction_corpus import SINGLE_LINE, leaks, traceback_text

pytestmark = pytest.mark.integration
SECRET = "webhook-test-secret"
CORPUS = " | ".join(text for text, _ in SINGLE_LINE)
# no telltale shape: only the field's name (_context_auth_token) can give it away
TOKEN = "opaque-keystone-token-7781"


def _notify(nova: Nova, vm: str) -> None:
    """What nova-compute sends: the request context (with its token) and the fault."""
    note = sample("instance.resize.error", uuid=vm)
    fault = note["payload"]["nova_object.data"]["fault"]["nova_object.data"]
    fault["exception_message"] = f"PLANTED-NOTE {CORPUS}"
    fault["traceback"] = traceback_text()
    context = {"auth_token": TOKEN, "request_id": "req-planted", "user_name": "admin"}
    nova._notifier(note["publisher_id"]).error(
        context, note["event_type"], note["payload"]
    )


async def _publish_raw(exchange_name: str, routing_key: str, body: bytes) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(exchange_name)
        await exchange.publish(aio_pika.Message(body=body), routing_key=routing_key)
    finally:
        await connection.close()


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> int:
    stamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(SECRET, stamp, body),
        "Content-Type": "application/json",
    }
    async with session.post(url, data=body, headers=headers) as response:
        return response.status


async def _every_row(store: Store) -> list[str]:
    """Every row of every table of the store, each as one text."""
    rows: list[str] = []
    async with store.sessions() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table))
            rows += [
                f"{table.name}: "
                + json.dumps([str(v) for v in row], ensure_ascii=False)
                for row in result.all()
            ]
    return rows


async def plant_and_scan(url: str) -> list[str]:
    """Send the corpus through every path into the store at ``url``; its rows."""
    async with broker() as names:
        poster, incidents = RecordingPoster(), RecordingIncidents()
        replica = await start_replica(
            url, names, bot_settings(), poster, incidents, "r1"
        )
        nova = Nova(names)
        runner, port = await start_webhook(
            build_webhook_app(replica.cases, replica.cases.intake, SECRET),
            "127.0.0.1",
            0,
        )
        hook = f"http://127.0.0.1:{port}{PATH}"
        try:
            await asyncio.to_thread(_notify, nova, "vm-planted-1")
            await _publish_raw(
                names.exchange,
                f"{names.topic}.error",
                json.dumps({"oslo.version": "2.0", "oslo.message": CORPUS}).encode(),
            )
            async with aiohttp.ClientSession() as session:
                good = {
                    "instance_uuid": "vm-planted-2",
                    "status": "failed",
                    "error": f"PLANTED-HOOK {CORPUS}",
                    "details": {"_context_auth_token": TOKEN, "password": "hunter2Pw"},
                }
                assert await _post(session, hook, json.dumps(good).encode()) == 202
                bad = {"status": "failed", "error": CORPUS}  # names no instance
                assert await _post(session, hook, json.dumps(bad).encode()) == 400
            intake = replica.cases.intake
            await wait_for(_count_is(intake, 2), timeout=20)
            await wait_for(_letters_are(intake, 2), timeout=20)
            store = replica.store
            case = await store.create_case(
                vm_name="web-02", channel="C-OPS", source="slash"
            )
            raw = scripted_diagnosis("web-02")
            steps = tuple(
                replace(s, summary=f"{s.summary} {CORPUS}") for s in raw.steps
            )
            await store.record_run(case.id, replace(raw, steps=steps), "U1")
            await store.record_escalation(
                case.id, user_id="U1", dedup_key="k", status=f"error: {CORPUS}"
            )
            return await _every_row(store)
        finally:
            await runner.cleanup()
            nova.close()
            await replica.shutdown()


def _count_is(intake: IntakeRepo, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await intake.count_cases() == n

    return check


def _letters_are(intake: IntakeRepo, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(await intake.dead_letters()) == n

    return check


def assert_clean(rows: list[str]) -> None:
    """No secret in any row; and the planted text did arrive (masked) in each table."""
    assert leaks(rows) == []
    assert not any(TOKEN in r for r in rows)
    by_table = "\n".join(rows)
    for tag in ("PLANTED-NOTE", "PLANTED-HOOK"):
        assert tag in by_table, f"{tag} never reached the store"
    for table in ("intake_cases", "dead_letters", "runs", "escalations"):
        assert any(r.startswith(f"{table}: ") and "***" in r for r in rows), table


async def test_nothing_secret_is_stored_in_sqlite(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite: every row is clean, and so is every byte of the database file."""
    assert_clean(await plant_and_scan(sqlite_url))
    files = [p for p in tmp_path.iterdir() if p.name.startswith("bot.sqlite")]  # noqa: ASYNC240 - a test reading its own temp dir
    assert files
    raw = [p.read_bytes().decode("latin-1") for p in files]
    assert leaks(raw) == []
    assert not any(TOKEN in text for text in raw)


async def test_nothing_secret_is_stored_in_postgresql(pg_url: str) -> None:
    """PostgreSQL: every row of every table is clean."""
    assert_clean(await plant_and_scan(pg_url))
