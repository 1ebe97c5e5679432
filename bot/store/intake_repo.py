"""The intake's persistence: durable dedupe claims and the posting lease of each case.

Composes :class:`bot.store.Store` (its engine and session factory). Every claim is one
transaction whose exclusivity comes from the primary key of ``dedupe_keys``: an
``INSERT … ON CONFLICT DO NOTHING`` either wins or finds the winner, so it holds across
restarts and across replicas sharing one PostgreSQL database. Which keys a report has and
when a weak key joins are rules of :mod:`bot.cases.dedupe`, passed in as values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.intake_bookkeeping import IntakeBookkeeping
from bot.store.intake_models import DedupeKeyRow, IntakeCaseRow
from bot.store.loop_models import CaseResolutionRow
from bot.store.models import CaseRow
from bot.store.repo import Store, new_id
from bot.times import as_utc
from diagnostics.evidence.redact import redact, redact_json
from diagnostics.model import MigrationKind

log = logging.getLogger(__name__)
T = TypeVar("T")

WAITING, PENDING, POSTING, POSTED = "waiting", "pending", "posting", "posted"
FAILED = "failed"  # terminal: see intake_cases.reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One report as the store writes it: its facts and the keys the dedupe rules derived."""

    source: str
    primary_key: str
    strong_keys: tuple[str, ...]  # permanent identities of this failure, sorted
    request_key: str | None  # shared by every report of one API call
    instance_key: str | None  # serialises claimers of one VM across replicas
    instance_uuid: str | None
    migration: str | None
    request_id: str | None
    kind: MigrationKind | None
    source_host: str | None
    dest_host: str | None
    availability_zone: str | None
    aggregate: str | None
    error: str | None
    occurred_at: datetime | None
    report: Mapping[str, Any]  # what is kept of the report itself (JSON)


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownCase:
    """What the join rules may look at of a case that already exists."""

    case_id: str
    instance_uuid: str | None
    migration: str | None
    request_id: str | None
    occurred_at: datetime | None


class JoinRules(Protocol):
    """When a sighting that shares only a weak key joins an existing case."""

    @property
    def since(self) -> datetime: ...

    def same_call(self, case: KnownCase) -> bool: ...

    def same_failure(self, case: KnownCase) -> bool: ...


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
    kind: MigrationKind | None
    source_host: str | None
    dest_host: str | None
    availability_zone: str | None
    aggregate: str | None
    error: str | None
    channel: str | None
    created_at: datetime
    attempts: int = 0  # earlier tries to post it (this lease not counted)


def _leased(row: IntakeCaseRow) -> LeasedCase:
    return LeasedCase(
        case_id=row.case_id,
        instance_uuid=row.instance_uuid or "",
        migration=row.migration,
        kind=MigrationKind(row.kind) if row.kind else None,
        source_host=row.source_host,
        dest_host=row.dest_host,
        availability_zone=row.availability_zone,
        aggregate=row.aggregate,
        error=row.error,
        channel=row.channel,
        created_at=as_utc(row.created_at),
        attempts=row.attempts or 0,
    )


def _known(row: IntakeCaseRow) -> KnownCase:
    return KnownCase(
        case_id=row.case_id,
        instance_uuid=row.instance_uuid,
        migration=row.migration,
        request_id=row.request_id,
        occurred_at=as_utc(row.occurred_at) if row.occurred_at else None,
    )


def _redacted(sighting: Sighting) -> Sighting:
    """What may be written of a sighting: the error text and the body, redacted.

    The body is the source's own (a notification carries ``_context_auth_token``, Nova's
    ``exception_message`` can hold a ``transport_url``); secret-named fields are masked
    whatever their value looks like.
    """
    report = redact_json(sighting.report)
    return replace(
        sighting,
        error=redact(sighting.error) if sighting.error else sighting.error,
        report=report if isinstance(report, Mapping) else {},
    )


def _is_retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "deadlock" in text or "database is locked" in text or "serializ" in text


class IntakeRepo(IntakeBookkeeping):
    def __init__(self, store: Store) -> None:
        self.store = store

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

    async def link(
        self, case_id: str, keys: Iterable[str], *, source: str, now: datetime
    ) -> None:
        """Later reports carrying any of ``keys`` join ``case_id`` (keys another case
        owns already stay its). For a migration the bot itself changed from the case's
        thread: an abort's ``cancelled`` record is that case's, not a new failure."""

        async def work(session: AsyncSession) -> None:
            for key in sorted(set(keys)):
                await self._insert_key(session, key, case_id, now, source)

        await self._transaction(work)

    async def claim(
        self,
        sighting: Sighting,
        rules: JoinRules,
        *,
        channel: str | None,
        due_at: datetime,
        now: datetime,
    ) -> Claim:
        """Store the sighting as a new case, or join it to the case that already owns it.

        A strong key joins at once; the bare request key joins when ``rules.same_call``;
        the instance key joins the newest case of the VM created since ``rules.since``
        that ``rules.same_failure`` accepts.
        """
        sighting = _redacted(sighting)
        return await self._transaction(
            lambda s: self._claim(s, sighting, rules, channel, due_at, now)
        )

    async def _claim(
        self,
        session: AsyncSession,
        sighting: Sighting,
        rules: JoinRules,
        channel: str | None,
        due_at: datetime,
        now: datetime,
    ) -> Claim:
        fresh_id = new_id("case")
        weak = [k for k in (sighting.request_key, sighting.instance_key) if k]
        # one global key order: concurrent claims lock shared keys in the same sequence
        keys = sorted([*sighting.strong_keys, *weak])
        inserted: list[str] = []
        existing: dict[str, DedupeKeyRow] = {}
        for key in keys:
            if await self._insert_key(session, key, fresh_id, now, sighting.source):
                inserted.append(key)
                continue
            row = await session.scalar(
                select(DedupeKeyRow).where(DedupeKeyRow.key == key).with_for_update()
            )
            if row is not None:
                existing[key] = row
        target = next(
            (existing[k].case_id for k in sighting.strong_keys if k in existing), None
        )
        request = existing.get(sighting.request_key or "")
        if target is None and request is not None:
            case = await session.get(IntakeCaseRow, request.case_id)
            if case is not None and rules.same_call(_known(case)):
                target = case.case_id
        instance = existing.get(sighting.instance_key or "")
        if target is None and instance is not None:
            # the locked instance key serialises claimers of this VM across replicas
            target = await self._correlate(session, sighting, rules)
        if target is None:
            await self._create(session, fresh_id, sighting, channel, due_at, now)
            if instance is not None:
                instance.case_id = fresh_id
                instance.last_seen = now
            return Claim(case_id=fresh_id, new=True)
        await self._join(session, target, sighting, inserted, existing.values(), now)
        return Claim(case_id=target, new=False)

    async def _correlate(
        self,
        session: AsyncSession,
        sighting: Sighting,
        rules: JoinRules,
    ) -> str | None:
        """A recent case of the same VM that the rules accept, newest first."""
        query = (
            select(IntakeCaseRow)
            .where(
                IntakeCaseRow.instance_uuid == sighting.instance_uuid,
                IntakeCaseRow.created_at >= rules.since,
                # a resolved case is closed: a new failure of the VM opens a new case
                IntakeCaseRow.case_id.not_in(
                    select(CaseResolutionRow.case_id).where(CaseResolutionRow.resolved)
                ),
            )
            .order_by(IntakeCaseRow.created_at.desc())
        )
        for case in (await session.scalars(query)).all():
            if rules.same_failure(_known(case)):
                return case.case_id
        return None

    async def _create(
        self,
        session: AsyncSession,
        case_id: str,
        sighting: Sighting,
        channel: str | None,
        due_at: datetime,
        now: datetime,
    ) -> None:
        session.add(
            CaseRow(
                id=case_id,
                vm_name=sighting.instance_uuid or "?",
                vm_id=sighting.instance_uuid,
                migration_id=sighting.migration,
                target_host=sighting.dest_host,
                channel=channel or "",
                source=sighting.source,
                created_at=now,
            )
        )
        await session.flush()  # the case row first: intake_cases references it
        session.add(
            IntakeCaseRow(
                case_id=case_id,
                primary_key=sighting.primary_key,
                instance_uuid=sighting.instance_uuid,
                migration=sighting.migration,
                request_id=sighting.request_id,
                kind=sighting.kind,
                source_host=sighting.source_host,
                dest_host=sighting.dest_host,
                availability_zone=sighting.availability_zone,
                aggregate=sighting.aggregate,
                error=sighting.error,
                occurred_at=sighting.occurred_at,
                status=PENDING if sighting.instance_uuid else WAITING,
                due_at=due_at,
                channel=channel,
                report=dict(sighting.report),
                created_at=now,
            )
        )

    async def _join(
        self,
        session: AsyncSession,
        case_id: str,
        sighting: Sighting,
        inserted: Sequence[str],
        existing: Iterable[DedupeKeyRow],
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
            if sighting.source not in row.sources:
                row.sources = [*row.sources, sighting.source]
        case = await session.get(IntakeCaseRow, case_id, with_for_update=True)
        if case is None:
            return
        # what this source knows and the first one did not (a migration id, a host, the error)
        for attr, value in (
            ("instance_uuid", sighting.instance_uuid),
            ("migration", sighting.migration),
            ("request_id", sighting.request_id),
            ("kind", sighting.kind),
            ("source_host", sighting.source_host),
            ("dest_host", sighting.dest_host),
            ("availability_zone", sighting.availability_zone),
            ("aggregate", sighting.aggregate),
            ("error", sighting.error),
            ("occurred_at", sighting.occurred_at),
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

    async def renew(
        self, owner: str, case_ids: Iterable[str], *, now: datetime, lease_s: float
    ) -> set[str]:
        """Extend this owner's leases (the heartbeat); returns the cases another replica
        holds now (their lease ran out and was taken). A case this owner already settled
        (posted, handed back, failed) is neither renewed nor taken."""
        ids = list(case_ids)
        if not ids:
            return set()

        async def work(session: AsyncSession) -> set[str]:
            await session.execute(
                update(IntakeCaseRow)
                .where(
                    IntakeCaseRow.case_id.in_(ids),
                    IntakeCaseRow.owner == owner,
                    IntakeCaseRow.status == POSTING,
                )
                .values(lease_until=now + timedelta(seconds=lease_s))
            )
            taken = await session.scalars(
                select(IntakeCaseRow.case_id).where(
                    IntakeCaseRow.case_id.in_(ids),
                    IntakeCaseRow.owner.is_not(None),
                    IntakeCaseRow.owner != owner,
                )
            )
            return set(taken.all())

        return await self._transaction(work)

    async def finish(
        self, case_id: str, owner: str, *, posted: bool, now: datetime
    ) -> None:
        """Mark the case posted, or hand it back at once (status pending)."""
        if posted:
            await self._settle(case_id, owner, status=POSTED, posted_at=now)
        else:
            await self._settle(case_id, owner, status=PENDING, owner=None)

    async def retry_later(
        self, case_id: str, owner: str, *, reason: str, due_at: datetime
    ) -> None:
        """A failed post that may pass: pending again from ``due_at``, one attempt more."""
        await self._settle(
            case_id,
            owner,
            status=PENDING,
            owner=None,
            due_at=due_at,
            reason=redact(reason),
            attempts=IntakeCaseRow.attempts + 1,
        )

    async def fail(self, case_id: str, owner: str, *, reason: str) -> None:
        """The case ends here (terminal), with the reason."""
        await self._settle(
            case_id,
            owner,
            status=FAILED,
            reason=redact(reason),
            attempts=IntakeCaseRow.attempts + 1,
        )

    async def outcome(self, case_id: str) -> tuple[str, str | None, int]:
        """The case's status, reason and attempts (tests, history)."""
        async with self.store.sessions() as session:
            row = await session.get(IntakeCaseRow, case_id)
            if row is None:
                return ("missing", None, 0)
            return (row.status, row.reason, row.attempts)

    async def _settle(self, case_id: str, holder: str, **values: Any) -> None:
        """Update the case if ``holder`` still holds its lease."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(IntakeCaseRow)
                .where(IntakeCaseRow.case_id == case_id, IntakeCaseRow.owner == holder)
                .values(**values)
            )
