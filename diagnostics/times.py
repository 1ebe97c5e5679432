"""The one rule for times: aware UTC everywhere; a naive time means UTC.

OpenStack APIs write naive ISO 8601 in UTC (sometimes with ``Z``), oslo notifications
``str(utcnow())`` with a space, SQLite hands back naive values that were UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC: naive means UTC, an aware time is converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 string (or a datetime) as aware UTC; None when absent or malformed."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None
