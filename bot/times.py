"""The bot's one rule for times: aware UTC everywhere, naive values mean UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A naive time as UTC (SQLite and oslo hand back naive values that were UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from an API, alert or notification; None when absent or bad.

    Accepts a trailing ``Z`` and oslo's ``str(utcnow())`` form (a space, no zone).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(stamp)
