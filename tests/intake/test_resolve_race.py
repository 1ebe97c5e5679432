"""Two sources resolving one case at the same moment (the bot's watch and a notification,
or two replicas): one resolution, and the other is told it was already resolved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.store import Store
from bot.store.resolution_repo import (
    ResolvedVia,
    SuccessfulMove,
    reopen,
    resolution_of,
    resolve,
)
from bot.store.timeline_repo import timeline


def _move(via: ResolvedVia) -> SuccessfulMove:
    return SuccessfulMove(
        migration_id="43",
        source_host="cmp-a-01",
        dest_host="cmp-a-03",
        at=datetime.now(UTC),
        via=via,
    )


async def _resolve_all_at_once(store: Store, case_id: str) -> None:
    results = await asyncio.gather(
        *(
            resolve(store, case_id, reason=f"seen by the {via.value}", move=_move(via))
            for via in (ResolvedVia.WATCH, ResolvedVia.NOTIFICATION) * 3
        )
    )
    won = [r for r in results if r is not None]
    assert len(won) == 1
    assert await resolution_of(store, case_id) == won[0]


async def _race(store: Store) -> None:
    case = await store.create_case(vm_name="web-02", channel="C0OPS", source="slash")
    await _resolve_all_at_once(store, case.id)  # the row's first insert
    assert await reopen(store, case.id, by="U0OPER001") is not None
    await _resolve_all_at_once(store, case.id)  # the reopened row's update
    kinds = [e.kind for e in await timeline(store, case.id)]
    assert kinds.count("resolved") == 2
    assert kinds.count("reopened") == 1


async def test_concurrent_resolutions_are_one_on_sqlite(sqlite_store: Store) -> None:
    """SQLite: the losers get None, no IntegrityError."""
    await _race(sqlite_store)


@pytest.mark.integration
async def test_concurrent_resolutions_are_one_on_postgresql(pg_store: Store) -> None:
    """PostgreSQL: the losers get None, no unique violation."""
    await _race(pg_store)
