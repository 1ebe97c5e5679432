"""Fixtures of the intake tests: stores on SQLite and on a throwaway PostgreSQL database,
recording posters, and report builders from Nova's own notification samples."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.settings import BotSettings
from bot.store.incident_repo import IncidentView
from bot.store.repo import Store
from diagnostics.model import MigrationRef

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def wait_for(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 10.0,  # noqa: ASYNC109 - a test helper's deadline, used with asyncio.timeout
) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


def bot_settings(**intake: Any) -> BotSettings:
    storms = {"group_wait_s": 0, **intake.pop("storms", {})}
    return BotSettings.model_validate(
        {
            "slack": {"default_channel": "C-OPS", "update_interval_s": 0},
            "intake": {"storms": storms, **intake},
        }
    )


@dataclass
class RecordingPoster:
    """Stands in for bot.posting.case_poster.SlackCasePoster: records every post."""

    posts: list[tuple[str, MigrationRef, str, str | None]] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)  # (channel, text)
    fail_first: int = 0
    fail_with: Exception | None = None  # raised on every post when set

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
    ) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if self.fail_first > 0:
            self.fail_first -= 1
            raise RuntimeError("slack is down")
        self.posts.append((case_id, ref, channel, thread_ts))

    async def post_notice(
        self, channel: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        self.notices.append((channel, text))

    def case_ids(self) -> list[str]:
        return [post[0] for post in self.posts]


@dataclass
class RecordingIncidents:
    """Stands in for the incident poster: records parents and their updates."""

    parents: list[IncidentView] = field(default_factory=list)
    updates: list[IncidentView] = field(default_factory=list)

    async def post_incident(self, view: IncidentView) -> str:
        self.parents.append(view)
        return f"1700000000.{len(self.parents):06d}"

    async def update_incident(self, view: IncidentView) -> None:
        self.updates.append(view)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
    yield store
    await store.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    name = f"md_intake_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    store = await Store.open(pg_url)
    yield store
    await store.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}"
