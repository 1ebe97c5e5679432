"""``migrate-diag history [--vm X] [--host H] [--since T]``: the audit trail, as a table."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta

from bot.settings import BotSettings
from bot.store.history import HistoryRow, history
from bot.store.repo import Store
from bot.times import parse_time, utcnow

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``2h``, ``30m``, ``7d`` (ago), or an ISO 8601 time (naive means UTC)."""
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match[1]), _UNITS[match[2]]
        return (now or utcnow()) - timedelta(**{unit: amount})
    stamp = parse_time(text.strip())
    if stamp is None:
        raise ValueError(f"--since {text!r}: use e.g. 2h, 30m, 7d or 2026-08-21T10:00")
    return stamp


def _outcome(row: HistoryRow) -> str:
    """The latest verdict, or where an undiagnosed case stands (undeliverable, ...)."""
    if row.verdict:
        return row.verdict
    return row.state if row.state and row.state != "diagnosed" else "not diagnosed"


def format_rows(rows: list[HistoryRow]) -> str:
    """A plain-text table for the terminal."""
    if not rows:
        return "No diagnoses match."
    header = f"{'when (UTC)':<19}  {'vm':<36}  {'route':<29}  {'source':<12}  {'verdict':<22}  runs"
    lines = [header]
    for row in rows:
        route = f"{row.source_host or '?'} -> {row.dest_host or '?'}"
        lines.append(
            f"{row.created_at:%Y-%m-%d %H:%M:%S}  {row.vm[:36]:<36}  {route[:29]:<29}  "
            f"{row.source[:12]:<12}  {_outcome(row)[:22]:<22}  {row.runs}"
        )
    return "\n".join(lines)


async def print_history(
    settings: BotSettings, *, vm: str | None, host: str | None, since: str | None
) -> int:
    """`migrate-diag history`: the audit trail of past diagnoses, newest first."""
    store = await Store.open(settings.store.url)
    try:
        rows = await history(
            store,
            vm=vm,
            host=host,
            since=parse_since(since) if since else None,
            limit=50,
        )
    finally:
        await store.close()
    sys.stdout.write(format_rows(rows) + "\n")
    return 0
