"""When a case is resolved by itself: a later migration of the same VM succeeded.

The sources (``bot.intake.successes``: the poller's completed/confirmed migrations and
Nova's success notifications) report a :class:`SuccessfulMove` for an instance; every open
case of that VM opened *before* the move finished is resolved by it, and shown through a
:class:`ResolutionPoster`. A move that finished before the case was opened resolves
nothing: it cannot be the fix of a failure that came after it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.store import CaseRecord, Store
from bot.store.resolution_repo import (
    Resolution,
    ResolvedVia,
    SuccessfulMove,
    open_cases_of_vm,
    resolve,
)

log = logging.getLogger(__name__)


class ResolutionPoster(Protocol):
    """The Slack side: show that a case was resolved (parent and thread)."""

    async def show_resolved(self, case: CaseRecord, resolution: Resolution) -> None: ...


_SEEN_BY = {
    ResolvedVia.POLLER: "the poller",
    ResolvedVia.NOTIFICATION: "the notification",
    ResolvedVia.WATCH: "the bot following the move it started",
}


def describe_move(move: SuccessfulMove) -> str:
    """``migration 42 cmp-a-01 → cmp-b-01 completed`` (what the parent names)."""
    what = f"migration {move.migration_id}" if move.migration_id else "a migration"
    route = f" {move.source_host or '?'} → {move.dest_host or '?'}"
    if move.source_host is None and move.dest_host is None:
        route = ""
    seen = _SEEN_BY.get(move.via, f"the {move.via.value}")
    return f"{what}{route} succeeded (seen by {seen})"


class CaseResolver:
    """Turns a successful move into resolved cases; ``ResolutionSink`` of the sources."""

    def __init__(self, store: Store, poster: ResolutionPoster | None) -> None:
        self.store = store
        self.poster = poster

    async def migration_succeeded(
        self, instance_uuid: str, move: SuccessfulMove
    ) -> list[Resolution]:
        """Resolve the VM's open cases opened before the move finished; returns them."""
        done = []
        for case in await open_cases_of_vm(self.store, instance_uuid, before=move.at):
            resolution = await resolve(
                self.store, case.id, reason=describe_move(move), move=move
            )
            if resolution is None:  # another replica (or source) resolved it first
                continue
            log.info("case %s resolved: %s", case.id, resolution.reason)
            done.append(resolution)
            if self.poster is not None:
                try:
                    await self.poster.show_resolved(case, resolution)
                except Exception:  # the store has it; the parent is repaired on refresh
                    log.exception("showing the resolution of %s failed", case.id)
        return done
