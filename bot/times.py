"""The bot's times: the rule of diagnostics.times (aware UTC; naive means UTC), with a
``parse_time`` that takes only strings (what an alert or notification carries)."""

from __future__ import annotations

from datetime import datetime

from diagnostics.times import as_utc, utcnow
from diagnostics.times import parse_time as parse_iso

__all__ = ["as_utc", "parse_time", "utcnow"]


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from an API, alert or notification; None when absent or bad.

    Accepts a trailing ``Z`` and oslo's ``str(utcnow())`` form (a space, no zone).
    """
    if not isinstance(value, str):
        return None
    return parse_iso(value)
