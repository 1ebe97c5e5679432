"""The one value every intake source produces: a report that a migration failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from diagnostics.model import MigrationKind, MigrationRef


class ReportSource(StrEnum):
    NOTIFICATION = "notification"
    POLLER = "poller"
    WEBHOOK = "webhook"


class MalformedEvent(ValueError):
    """A message or body that cannot be a failure report; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from an API or alert (naive means UTC); None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureReport:
    """One sighting of a failed (or cancelled) migration, from any source.

    Several reports may describe the same migration (a notification and the poller, a
    redelivery); ``bot.cases`` merges them through :meth:`dedupe_keys`.
    """

    source: ReportSource
    migration_id: str | None = None  # Nova's integer id, as text
    migration_uuid: str | None = None
    instance_uuid: str | None = None
    kind: MigrationKind | None = None
    status: str | None = None  # error | failed | cancelled
    source_host: str | None = None
    dest_host: str | None = None
    request_id: str | None = None
    event_type: str | None = None
    error: str | None = None  # exception class and message, when the source has them
    availability_zone: str | None = None
    aggregate: str | None = None
    # when Nova says it failed (the notification's timestamp, the record's updated_at)
    occurred_at: datetime | None = None
    received_at: datetime = field(default_factory=utcnow)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def migration_key(self) -> str | None:
        """``migration:<uuid or id>``: the durable identity of the failed migration."""
        ident = self.migration_uuid or self.migration_id
        return f"migration:{ident}" if ident else None

    def dedupe_keys(self) -> tuple[str, ...]:
        """Permanent keys (never reused for another failure), sorted for lock ordering.

        The uuid and the integer id are both claimed when known so a source that knows
        only one of them still meets the case. A request id is unique per API call, but
        one call may touch several servers, so it is claimed per instance, plus the bare
        ``request:<id>`` that lets a ``compute.exception`` (which has no instance) join.
        """
        keys: set[str] = set()
        if self.migration_uuid:
            keys.add(f"migration:{self.migration_uuid}")
        if self.migration_id:
            keys.add(f"migration-id:{self.migration_id}")
        if self.request_id:
            keys.add(self.request_key or "")
            if self.instance_uuid:
                keys.add(f"request:{self.request_id}:instance:{self.instance_uuid}")
        return tuple(sorted(keys))

    @property
    def request_key(self) -> str | None:
        """The bare request key: shared by every report of one API call."""
        return f"request:{self.request_id}" if self.request_id else None

    @property
    def primary_key(self) -> str:
        """The key a case is named by: the migration, else instance + request id."""
        if self.migration_key:
            return self.migration_key
        if self.instance_uuid and self.request_id:
            return f"instance:{self.instance_uuid}:request:{self.request_id}"
        if self.request_id:
            return f"request:{self.request_id}"
        if self.instance_uuid:
            return f"instance:{self.instance_uuid}:at:{self.received_at.isoformat()}"
        raise MalformedEvent(
            "report names neither a migration, an instance nor a request"
        )

    def migration_ref(self) -> MigrationRef:
        """What the diagnosis engine needs: the server and, when known, the migration."""
        if not self.instance_uuid:
            raise MalformedEvent("report has no instance uuid to diagnose")
        return MigrationRef(
            server=self.instance_uuid,
            migration_id=self.migration_uuid or self.migration_id,
            kind=self.kind,
        )

    def describe(self) -> str:
        """A one-line label for logs and incident tables."""
        what = self.migration_uuid or self.migration_id or self.request_id or "?"
        return f"{self.instance_uuid or '?'} ({what}) {self.status or ''} on {self.source_host or '?'}"
