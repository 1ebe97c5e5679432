"""The bot's times: the rule of diagnostics.times (aware UTC; naive means UTC), plus now."""

from __future__ import annotations

from datetime import UTC, datetime

from diagnostics.times import as_utc
from diagnostics.times import parse_time as parse_iso

__all__ = ["as_utc", "parse_time", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from an API, alert or notification; None when absent or bad.

    Accepts a trailing ``Z`` and oslo's ``str(utcnow())`` form (a space, no zone).
    """
    if not isinstance(value, str):
        return None
    return parse_iso(value)
