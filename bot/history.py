"""``migrate-diag history [--vm X] [--host H] [--since T]``: the audit trail of diagnoses.

Rows come from the cases table (every case, whatever started it: slash command, button,
notification, poller, webhook), with the intake's hosts and the latest run's verdict.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select

from bot.settings import BotSettings
from bot.store.intake_models import IntakeCaseRow
from bot.store.models import CaseRow, RunRow
from bot.store.repo import Store

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRow:
    case_id: str
    created_at: datetime
    vm: str
    migration_id: str | None
    source_host: str | None
    dest_host: str | None
    source: str  # slash, notification, poller, webhook, ...
    verdict: str | None  # latest run's root cause id; None: never diagnosed
    runs: int
    channel: str
    incident_id: str | None


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``2h``, ``30m``, ``7d`` (ago), or an ISO 8601 time (naive means UTC)."""
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match[1]), _UNITS[match[2]]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"--since {text!r}: use e.g. 2h, 30m, 7d or 2026-08-21T10:00"
        ) from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def history(
    store: Store,
    *,
    vm: str | None = None,
    host: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[HistoryRow]:
    """Past cases, newest first, filtered by VM (name or uuid), host and start time."""
    runs = (
        select(
            RunRow.case_id,
            func.count().label("n"),
            func.max(RunRow.created_at).label("last"),
        )
        .group_by(RunRow.case_id)
        .subquery()
    )
    query = (
        select(CaseRow, IntakeCaseRow, runs.c.n)
        .outerjoin(IntakeCaseRow, IntakeCaseRow.case_id == CaseRow.id)
        .outerjoin(runs, runs.c.case_id == CaseRow.id)
        .order_by(CaseRow.created_at.desc(), CaseRow.id)
        .limit(limit)
    )
    if vm:
        query = query.where(
            or_(
                CaseRow.vm_name == vm,
                CaseRow.vm_id == vm,
                IntakeCaseRow.instance_uuid == vm,
            )
        )
    if host:
        query = query.where(
            or_(
                IntakeCaseRow.source_host == host,
                IntakeCaseRow.dest_host == host,
                CaseRow.target_host == host,
            )
        )
    if since:
        query = query.where(CaseRow.created_at >= since)
    rows = []
    async with store.sessions() as session:
        result: list[tuple[CaseRow, IntakeCaseRow | None, int | None]] = [
            (row[0], row[1], row[2]) for row in (await session.execute(query)).all()
        ]
        for case, intake, count in result:
            verdict = await session.scalar(
                select(RunRow.verdict)
                .where(RunRow.case_id == case.id)
                .order_by(RunRow.created_at.desc())
                .limit(1)
            )
            rows.append(
                HistoryRow(
                    case_id=case.id,
                    created_at=_aware(case.created_at),
                    vm=case.vm_name,
                    migration_id=case.migration_id
                    or (intake.migration if intake else None),
                    source_host=intake.source_host if intake else None,
                    dest_host=(intake.dest_host if intake else None)
                    or case.target_host,
                    source=case.source,
                    verdict=verdict,
                    runs=count or 0,
                    channel=case.channel,
                    incident_id=intake.incident_id if intake else None,
                )
            )
    return rows


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
            f"{row.source[:12]:<12}  {(row.verdict or 'not diagnosed')[:22]:<22}  {row.runs}"
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
