"""Relative times of a scenario: ``now``, ``-90s``, ``-5m``, ``-2h``, ``+30d``.

Every time in a scenario is relative to the moment the region starts, so a bundled
scenario always looks as if its failure happened a few minutes ago.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_REL = re.compile(r"^(?P<sign>[+-])(?P<n>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def resolve_time(rel: str, now: datetime | None = None) -> datetime:
    """Turn ``-5m`` / ``+30d`` / ``now`` into an aware UTC datetime."""
    now = now or datetime.now(UTC)
    if rel == "now":
        return now
    m = _REL.match(rel)
    if not m:
        raise ValueError(f"bad relative time {rel!r} (expected like -5m, +30d, now)")
    delta = timedelta(**{_UNITS[m["unit"]]: int(m["n"])})
    return now + delta if m["sign"] == "+" else now - delta
