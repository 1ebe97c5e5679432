"""Parse one log line of the formats hypervisors and management-plane pods write.

- oslo.log (ostackhost.log, nova pods):
  ``2026-11-25 19:02:11.532 3521 ERROR nova.virt.libvirt.driver [req-… …] …``
- libvirtd: ``2026-11-25 19:02:11.498+0000: 2211: error : virNetTLS…``
- qemu: ``2026-11-25T19:02:11.498571Z qemu-kvm: …``

oslo.log writes local time without an offset; PCD hosts and pods run in UTC, so such
stamps are read as UTC. Every parser here is total: arbitrary text gives a ``LogLine``
with ``timestamp=None`` rather than an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone

from diagnostics.evidence.redact import redact, redact_lines
from diagnostics.evidence.types import LogLine
from diagnostics.times import as_utc

_OSLO = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,6})?)\s+\d+\s+"
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|TRACE)\b"
)
_LIBVIRTD = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?)(?P<tz>[+-]\d{4}):\s*\d+:\s*"
    r"(?P<level>debug|info|warning|error)\s*:"
)
_QEMU = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)Z\s")
_REQUEST_ID = re.compile(
    r"\b(req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b"
)


_HOURS_A_DAY = 24
_MINUTES_AN_HOUR = 60


def _stamp(text: str, tz: timezone = UTC) -> datetime | None:
    text = text.replace("T", " ")
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(UTC)
    except (
        ValueError,
        OverflowError,
    ):  # not a date; or year 1 / 9999 shifted out of range
        return None


def _offset(text: str) -> timezone:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours >= _HOURS_A_DAY or minutes >= _MINUTES_AN_HOUR:  # garbage, not an offset
        return UTC
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_log_line(source: str, text: str) -> LogLine:
    """A redacted ``LogLine`` with timestamp (aware UTC), level and request id when found."""
    return _parsed(source, text, redact(text))


def parse_log_lines(lines: Sequence[tuple[str, str]]) -> list[LogLine]:
    """``(source, text)`` of consecutive lines of ONE log, redacted together and parsed.

    Together, because a key a logger wrote over several lines (a PEM body, each line with
    its own prefix) is only recognisable from the line that opened it.
    """
    clean = redact_lines(text for _, text in lines)
    return [
        _parsed(source, text, masked)
        for (source, text), masked in zip(lines, clean, strict=True)
    ]


def _parsed(source: str, text: str, clean: str) -> LogLine:
    timestamp: datetime | None = None
    level: str | None = None
    if m := _OSLO.match(text):
        timestamp, level = _stamp(m["ts"]), m["level"]
    elif m := _LIBVIRTD.match(text):
        timestamp, level = _stamp(m["ts"], _offset(m["tz"])), m["level"].upper()
    elif m := _QEMU.match(text):
        timestamp = _stamp(m["ts"])
    rid = _REQUEST_ID.search(text)
    return LogLine(
        source=source,
        text=clean,
        timestamp=timestamp,
        level=level,
        request_id=rid.group(1) if rid else None,
    )


def in_window(line: LogLine, window: tuple[datetime, datetime] | None) -> bool:
    """Lines without a parseable timestamp are kept (they may be a traceback's tail)."""
    if window is None or line.timestamp is None:
        return True
    start, end = (as_utc(t) for t in window)
    return start <= line.timestamp <= end


def within(
    lines: Iterable[LogLine], window: tuple[datetime, datetime] | None
) -> tuple[LogLine, ...]:
    return tuple(line for line in lines if in_window(line, window))
