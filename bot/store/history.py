"""The audit trail of diagnoses: past cases with their hosts, runs and latest verdict.

Rows come from the cases table (every case, whatever started it: slash command, button,
notification, poller, webhook), with the intake's hosts and the latest run's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from bot.store.intake_models import IntakeCaseRow
from bot.store.models import CaseRow, RunRow
from bot.store.repo import Store
from bot.times import as_utc


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
    state: str | None = None  # cases.state: diagnosing, failed, undeliverable, ...


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
                    created_at=as_utc(case.created_at),
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
                    state=case.state,
                )
            )
    return rows
