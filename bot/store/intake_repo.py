"""The intake's persistence: durable dedupe claims and the posting lease of each case.

Composes :class:`bot.store.Store` (its engine and session factory); ``repo.py`` is not
touched. Every claim is one transaction whose exclusivity comes from the primary key of
``dedupe_keys``: an ``INSERT … ON CONFLICT DO NOTHING`` either wins or finds the winner,
so it holds across restarts and across replicas sharing one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intake.events import FailureReport
from bot.store.intake_bookkeeping import IntakeBookkeeping, aware
from bot.store.intake_models import DedupeKeyRow, IntakeCaseRow
from bot.store.models import CaseRow
from bot.store.repo import Store, new_id

log = logging.getLogger(__name__)
T = TypeVar("T")

WAITING, PENDING, POSTING, POSTED = "waiting", "pending", "posting", "posted"


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    case_id: str
    new: bool  # False: another report (or replica) already owns this failure


@dataclass(frozen=True, slots=True, kw_only=True)
class LeasedCase:
    """A case this replica may post now; nobody else will until the lease runs out."""

    case_id: str
    instance_uuid: str
    migration: str | None
    kind: str | None
    source_host: str | None
    dest_host: str | None
    availability_zone: str | None
    aggregate: str | None
    error: str | None
    channel: str | None
    created_at: datetime


def _leased(row: IntakeCaseRow) -> LeasedCase:
    return LeasedCase(
        case_id=row.case_id,
        instance_uuid=row.instance_uuid or "",
        migration=row.migration,
        kind=row.kind,
        source_host=row.source_host,
        dest_host=row.dest_host,
        availability_zone=row.availability_zone,
        aggregate=row.aggregate,
        error=row.error,
        channel=row.channel,
        created_at=aware(row.created_at),
    )


def _compatible(row: IntakeCaseRow, report: FailureReport, window: timedelta) -> bool:
    """Could ``report`` describe the same failure as the case ``row``? Unknowns match."""
    migration = report.migration_uuid or report.migration_id
    if migration and row.migration and migration != row.migration:
        return False
    if report.request_id and row.request_id and report.request_id != row.request_id:
        return False
    # an older failure of the same VM (the poller's look-back) is another case
    return not (
        report.occurred_at
        and row.occurred_at
        and abs(aware(row.occurred_at) - report.occurred_at) > window
    )


def _is_retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "deadlock" in text or "database is locked" in text or "serializ" in text


class IntakeRepo(IntakeBookkeeping):
    def __init__(self, store: Store, *, correlation_window_s: float = 900.0) -> None:
        self.store = store
        self.correlation_window = timedelta(seconds=correlation_window_s)

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, retried when the database reports a lock conflict."""
        for attempt in range(5):
            try:
                async with self.store.sessions.begin() as session:
                    return await work(session)
            except DBAPIError as exc:
                if not _is_retryable(exc) or attempt == 4:
                    raise
                log.info(
                    "retrying intake transaction after %s", type(exc.orig).__name__
                )
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _insert_key(
        self, session: AsyncSession, key: str, case_id: str, now: datetime, source: str
    ) -> bool:
        dialect = session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(DedupeKeyRow)
            .values(
                key=key,
                case_id=case_id,
                first_seen=now,
                last_seen=now,
                sources=[source],
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(DedupeKeyRow.key)
        )
        return (await session.execute(stmt)).first() is not None

    async def claim(
        self,
        report: FailureReport,
        *,
        channel: str | None,
        due_at: datetime,
        now: datetime,
    ) -> Claim:
        """Store the report as a new case, or join it to the case that already owns it."""
        return await self._transaction(
            lambda s: self._claim(s, report, channel, due_at, now)
        )

    async def _claim(
        self,
        session: AsyncSession,
        report: FailureReport,
        channel: str | None,
        due_at: datetime,
        now: datetime,
    ) -> Claim:
        fresh_id = new_id("case")
        permanent = report.dedupe_keys()
        instance_key = (
            f"instance:{report.instance_uuid}" if report.instance_uuid else None
        )
        # one global key order: concurrent claims lock shared keys in the same sequence
        keys = sorted([*permanent, *([instance_key] if instance_key else [])])
        inserted: list[str] = []
        existing: dict[str, DedupeKeyRow] = {}
        for key in keys:
            if await self._insert_key(session, key, fresh_id, now, report.source.value):
                inserted.append(key)
                continue
            row = await session.scalar(
                select(DedupeKeyRow).where(DedupeKeyRow.key == key).with_for_update()
            )
            if row is not None:
                existing[key] = row
        strong = [k for k in permanent if k != report.request_key]
        target = next((existing[k].case_id for k in strong if k in existing), None)
        if target is None and report.request_key in existing:
            target = await self._same_request(
                session, existing[report.request_key], report
            )
        if target is None and instance_key in existing:
            # the locked instance key serialises claimers of this VM across replicas
            target = await self._correlate(session, report, now)
        if target is None:
            await self._create(session, fresh_id, report, channel, due_at, now)
            if instance_key in existing:
                existing[instance_key].case_id = fresh_id
                existing[instance_key].last_seen = now
            return Claim(case_id=fresh_id, new=True)
        await self._join(session, target, report, inserted, existing.values(), now)
        return Claim(case_id=target, new=False)

    async def _same_request(
        self, session: AsyncSession, key_row: DedupeKeyRow, report: FailureReport
    ) -> str | None:
        """The bare request key joins only when the instances cannot differ."""
        case = await session.get(IntakeCaseRow, key_row.case_id)
        if case is None:
            return None
        if (
            case.instance_uuid
            and report.instance_uuid
            and case.instance_uuid != report.instance_uuid
        ):
            return None  # one API call, several servers: separate cases
        return key_row.case_id

    async def _correlate(
        self, session: AsyncSession, report: FailureReport, now: datetime
    ) -> str | None:
        """A recent case of the same VM that this report could describe, newest first."""
        query = (
            select(IntakeCaseRow)
            .where(
                IntakeCaseRow.instance_uuid == report.instance_uuid,
                IntakeCaseRow.created_at >= now - self.correlation_window,
            )
            .order_by(IntakeCaseRow.created_at.desc())
        )
        for case in (await session.scalars(query)).all():
            if _compatible(case, report, self.correlation_window):
                return case.case_id
        return None

    async def _create(
        self,
        session: AsyncSession,
        case_id: str,
        report: FailureReport,
        channel: str | None,
        due_at: datetime,
        now: datetime,
    ) -> None:
        migration = report.migration_uuid or report.migration_id
        session.add(
            CaseRow(
                id=case_id,
                vm_name=report.instance_uuid or "?",
                vm_id=report.instance_uuid,
                migration_id=migration,
                target_host=report.dest_host,
                channel=channel or "",
                source=report.source.value,
                created_at=now,
            )
        )
        await session.flush()  # the case row first: intake_cases references it
        session.add(
            IntakeCaseRow(
                case_id=case_id,
                primary_key=report.primary_key,
                instance_uuid=report.instance_uuid,
                migration=migration,
                request_id=report.request_id,
                kind=report.kind.value if report.kind else None,
                source_host=report.source_host,
                dest_host=report.dest_host,
                availability_zone=report.availability_zone,
                aggregate=report.aggregate,
                error=report.error,
                occurred_at=report.occurred_at,
                status=PENDING if report.instance_uuid else WAITING,
                due_at=due_at,
                channel=channel,
                report=_jsonable(report),
                created_at=now,
            )
        )

    async def _join(
        self,
        session: AsyncSession,
        case_id: str,
        report: FailureReport,
        inserted: Sequence[str],
        existing: Any,
        now: datetime,
    ) -> None:
        if inserted:
            await session.execute(
                update(DedupeKeyRow)
                .where(DedupeKeyRow.key.in_(inserted))
                .values(case_id=case_id)
            )
        for row in existing:
            if row.case_id != case_id:
                continue  # a bare request key owned by another server's case
            row.last_seen = now
            if report.source.value not in row.sources:
                row.sources = [*row.sources, report.source.value]
        case = await session.get(IntakeCaseRow, case_id, with_for_update=True)
        if case is None:
            return
        # what this source knows and the first one did not (a migration id, a host, the error)
        for attr, value in (
            ("instance_uuid", report.instance_uuid),
            ("migration", report.migration_uuid or report.migration_id),
            ("request_id", report.request_id),
            ("kind", report.kind.value if report.kind else None),
            ("source_host", report.source_host),
            ("dest_host", report.dest_host),
            ("availability_zone", report.availability_zone),
            ("aggregate", report.aggregate),
            ("error", report.error),
            ("occurred_at", report.occurred_at),
        ):
            if value and not getattr(case, attr):
                setattr(case, attr, value)
        if case.status == WAITING and case.instance_uuid:
            case.status = PENDING
            base = await session.get(CaseRow, case_id)
            if base is not None:
                base.vm_name = base.vm_id = case.instance_uuid

    async def lease_due(
        self, owner: str, *, now: datetime, lease_s: float, limit: int = 100
    ) -> list[LeasedCase]:
        """Take the cases due for posting (and those whose owner's lease ran out)."""

        async def work(session: AsyncSession) -> list[LeasedCase]:
            query = (
                select(IntakeCaseRow)
                .where(
                    or_(
                        (IntakeCaseRow.status == PENDING)
                        & (IntakeCaseRow.due_at <= now),
                        (IntakeCaseRow.status == POSTING)
                        & (IntakeCaseRow.lease_until < now),
                    )
                )
                .order_by(IntakeCaseRow.created_at, IntakeCaseRow.case_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list((await session.scalars(query)).all())
            for row in rows:
                row.status, row.owner = POSTING, owner
                row.lease_until = now + timedelta(seconds=lease_s)
            return [_leased(row) for row in rows]

        return await self._transaction(work)

    async def finish(
        self, case_id: str, owner: str, *, posted: bool, now: datetime
    ) -> None:
        """Mark the case posted, or hand it back (status pending) after a failed post."""
        values: dict[str, Any] = (
            {"status": POSTED, "posted_at": now}
            if posted
            else {"status": PENDING, "owner": None}
        )
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(IntakeCaseRow)
                .where(IntakeCaseRow.case_id == case_id, IntakeCaseRow.owner == owner)
                .values(**values)
            )


def _jsonable(report: FailureReport) -> dict[str, Any]:
    return {
        "source": report.source.value,
        "event_type": report.event_type,
        "status": report.status,
        "received_at": report.received_at.isoformat(),
        "raw": dict(report.raw),
    }
