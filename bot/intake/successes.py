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

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from bot.intake.oslo import Notification, _data, _publisher_host
from bot.intake.poller import MigrationLister, WatermarkPoller
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


class SuccessPoller(WatermarkPoller):
    """Polls the success statuses from its own watermark; reports each to the sink."""

    def __init__(
        self,
        lister: MigrationLister,
        sink: SuccessSink,
        watermarks: Watermarks,
        *,
        name: str = "os-migrations-succeeded",
        **options: Any,
    ) -> None:
        super().__init__(lister, watermarks, name=name, **options)
        self.sink = sink

    async def poll_once(self) -> int:
        """One pass; returns how many successful migrations were reported."""
        started, _, since = await self._window()
        seen = 0
        for status in SUCCESS_STATUSES:
            for record in await self._records(status, since):
                found = success_from_migration(record)
                if found is not None:
                    await self.sink.migration_succeeded(*found)
                    seen += 1
        await self.watermarks.set_watermark(self.name, started)
        return seen
