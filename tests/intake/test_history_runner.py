"""The history query (audit trail) and run_intake wiring of the enabled sources."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.cases.manager import CaseManager
from bot.cases.report import FailureReport, ReportSource
from bot.history import format_rows, parse_since
from bot.intake.runner import run_intake
from bot.intake.webhook import PATH, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.settings import BotSettings
from bot.store.history import history
from bot.store.repo import Store
from diagnostics.model import ConfigError
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)


async def test_history_filters_by_vm_host_and_since(sqlite_store: Store) -> None:
    """History lists intake cases newest first and filters by VM, host and start time."""
    now = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)
    cases = CaseManager(
        bot_settings(), sqlite_store, RecordingPoster(), RecordingIncidents()
    )
    for n, (host, age_h) in enumerate([("cmp-1", 5), ("cmp-2", 1), ("cmp-1", 0)]):
        cases.clock = lambda age_h=age_h: now - timedelta(hours=age_h)
        await cases.submit(
            FailureReport(
                source=ReportSource.POLLER,
                instance_uuid=f"vm-{n}",
                migration_uuid=f"mig-{n}",
                source_host=host,
                dest_host="cmp-9",
            )
        )
    rows = await history(sqlite_store)
    assert [r.vm for r in rows] == ["vm-2", "vm-1", "vm-0"]
    assert [r.vm for r in await history(sqlite_store, host="cmp-1")] == ["vm-2", "vm-0"]
    assert [r.vm for r in await history(sqlite_store, vm="vm-1")] == ["vm-1"]
    since = parse_since("2h", now=now)
    assert [r.vm for r in await history(sqlite_store, since=since)] == ["vm-2", "vm-1"]
    assert [r.vm for r in await history(sqlite_store, host="cmp-9", since=since)] == [
        "vm-2",
        "vm-1",
    ]
    table = format_rows(rows)
    assert "cmp-1 -> cmp-9" in table
    assert "not diagnosed" in table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime(2026, 8, 21, 11, 30, tzinfo=UTC)),
        ("7d", datetime(2026, 8, 14, 12, 0, tzinfo=UTC)),
        ("2026-08-20T08:00", datetime(2026, 8, 20, 8, 0, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    """--since takes a relative age or an ISO time (naive = UTC)."""
    assert parse_since(text, now=datetime(2026, 8, 21, 12, 0, tzinfo=UTC)) == expected


def test_parse_since_rejects_garbage() -> None:
    """An unreadable --since names the accepted forms."""
    with pytest.raises(ValueError, match=r"use e\.g\. 2h"):
        parse_since("yesterday-ish")


async def test_run_intake_starts_the_webhook_and_dispatcher(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the webhook enabled, a signed POST is stored and posted by the dispatcher."""
    monkeypatch.setenv("MD_TEST_HOOK_SECRET", "s3cret")
    settings = BotSettings.model_validate(
        {
            "slack": {"default_channel": "C-OPS"},
            "intake": {
                "webhook": {
                    "enabled": True,
                    "port": 1,
                    "secret_env": "MD_TEST_HOOK_SECRET",
                },
                "storms": {"group_wait_s": 0},
            },
        }
    )
    settings = settings.model_copy(
        update={
            "intake": settings.intake.model_copy(
                update={
                    "webhook": settings.intake.webhook.model_copy(update={"port": 0})
                }
            )
        }
    )
    poster = RecordingPoster()
    running = await run_intake(
        settings, poster, sqlite_store, incident_poster=RecordingIncidents()
    )
    try:
        body = b'{"instance_uuid": "vm-hook", "status": "error"}'
        stamp = str(int(time.time()))
        headers = {
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign("s3cret", stamp, body),
            "Content-Type": "application/json",
        }
        url = f"http://127.0.0.1:{running.webhook_port}{PATH}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as resp,
        ):
            assert resp.status == 202
        await wait_for(lambda: len(poster.posts) == 1)
        assert poster.posts[0][1].server == "vm-hook"
    finally:
        await running.close()


async def test_run_intake_refuses_a_missing_secret(sqlite_store: Store) -> None:
    """An enabled source without its secret is a configuration error naming the variable."""
    settings = BotSettings.model_validate(
        {
            "slack": {"default_channel": "C-OPS"},
            "intake": {
                "notifications": {"enabled": True, "url_env": "MD_TEST_UNSET_AMQP"}
            },
        }
    )
    with pytest.raises(ConfigError, match="MD_TEST_UNSET_AMQP"):
        await run_intake(
            settings,
            RecordingPoster(),
            sqlite_store,
            incident_poster=RecordingIncidents(),
        )
