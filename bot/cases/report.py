"""The one value every intake source produces: a report that a migration failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.times import utcnow
from diagnostics.model import MigrationKind


class ReportSource(StrEnum):
    NOTIFICATION = "notification"
    POLLER = "poller"
    WEBHOOK = "webhook"


class MalformedEvent(ValueError):
    """A message or body that cannot be a failure report; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureReport:
    """One sighting of a failed (or cancelled) migration, from any source.

    Several reports may describe the same migration (a notification and the poller, a
    redelivery); :mod:`bot.cases.dedupe` derives the keys that merge them.
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
    # how much later than the failure ``occurred_at`` may be: 0 when the source knows the
    # failure's time; an alert's ``startsAt`` is when its rule fired (``for:`` later)
    time_lag_s: float = 0.0
    received_at: datetime = field(default_factory=utcnow)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def describe(self) -> str:
        """A one-line label for logs and incident tables."""
        what = self.migration_uuid or self.migration_id or self.request_id or "?"
        return f"{self.instance_uuid or '?'} ({what}) {self.status or ''} on {self.source_host or '?'}"
