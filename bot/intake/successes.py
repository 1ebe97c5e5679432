"""Successful moves, the other half of what the sources see: they resolve open cases.

- Notifications: Nova emits ``instance.live_migration_post_dest.end`` on the destination
  once a live migration is done there (payload ``host`` = the destination), and
  ``instance.resize_confirm.end`` when a cold migration (a resize) is confirmed.
  ``instance.live_migration_post.end`` comes from the source before the destination is
  done, so it is not taken as the end.
- The poller: ``GET /os-migrations?status=completed|confirmed|done`` (live, cold confirmed,
  evacuation), which carries the migration id and both hosts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.intake.oslo import Notification, _data, _publisher_host
from bot.intake.poller import MigrationLister
from bot.intake.sinks import Watermarks
from bot.store.resolution_repo import ResolvedVia, SuccessfulMove
from bot.times import parse_time, utcnow

log = logging.getLogger(__name__)

SUCCESS_STATUSES = ("completed", "confirmed", "done")
SUCCESS_EVENTS = frozenset(
    {"instance.live_migration_post_dest.end", "instance.resize_confirm.end"}
)


class SuccessSink(Protocol):
    async def migration_succeeded(
        self, instance_uuid: str, move: SuccessfulMove
    ) -> object: ...


def success_from_notification(
    note: Notification, *, now: Callable[[], datetime] = utcnow
) -> tuple[str, SuccessfulMove] | None:
    """(instance uuid, the move) for a success notification, else None."""
    if note.event_type not in SUCCESS_EVENTS:
        return None
    data = _data(note.payload)
    instance = data.get("uuid")
    if not isinstance(instance, str) or not instance:
        return None
    host = data.get("host") or _publisher_host(note.publisher_id)
    return instance, SuccessfulMove(
        migration_id=None,
        source_host=None,
        dest_host=host if isinstance(host, str) else None,
        at=note.timestamp or now(),
        via=ResolvedVia.NOTIFICATION,
    )


def success_from_migration(
    record: Mapping[str, Any],
) -> tuple[str, SuccessfulMove] | None:
    """(instance uuid, the move) for a migration record with a success status."""
    instance = record.get("server_id") or record.get("instance_uuid")
    at = parse_time(record.get("updated_at"))
    if record.get("status") not in SUCCESS_STATUSES or not instance or at is None:
        return None
    ident = record.get("id")
    return str(instance), SuccessfulMove(
        migration_id=str(ident) if ident is not None else None,
        source_host=record.get("source_compute") or None,
        dest_host=record.get("dest_compute") or None,
        at=at,
        via=ResolvedVia.POLLER,
    )


class SuccessPoller:
    """Polls the success statuses from its own watermark; reports each to the sink."""

    def __init__(
        self,
        lister: MigrationLister,
        sink: SuccessSink,
        watermarks: Watermarks,
        *,
        name: str = "os-migrations-succeeded",
        overlap_s: float = 300.0,
        page_size: int = 200,
        initial_lookback_s: float = 3600.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.lister = lister
        self.sink = sink
        self.watermarks = watermarks
        self.name = name
        self.overlap = timedelta(seconds=overlap_s)
        self.page_size = page_size
        self.initial_lookback = timedelta(seconds=initial_lookback_s)
        self.clock = clock

    async def poll_once(self) -> int:
        """One pass; returns how many successful migrations were reported."""
        started = self.clock()
        last = await self.watermarks.watermark(self.name)
        since = (last - self.overlap) if last else started - self.initial_lookback
        seen = 0
        for status in SUCCESS_STATUSES:
            records = await asyncio.to_thread(self._fetch, status, since)
            for record in records:
                found = success_from_migration(record)
                if found is not None:
                    await self.sink.migration_succeeded(*found)
                    seen += 1
        await self.watermarks.set_watermark(self.name, started)
        return seen

    def _fetch(self, status: str, since: datetime) -> list[Mapping[str, Any]]:
        return list(
            self.lister.list_migrations(
                status=status, since=since, page_size=self.page_size
            )
        )

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("polling successful migrations failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                continue
