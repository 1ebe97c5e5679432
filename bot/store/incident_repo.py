"""Storm incidents in the database: failures sharing a storm key, under one parent.

An open incident per key is unique in the database (a partial unique index), so two
replicas that see the same storm join one incident instead of opening two. Which keys a
case has is a rule of :mod:`bot.cases.storms`; this module stores and matches them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.intake_models import IncidentMemberRow, IncidentRow, IntakeCaseRow
from bot.store.intake_repo import POSTED, WAITING, IntakeRepo
from bot.store.loop_models import CaseResolutionRow
from bot.store.repo import Store, new_id
from bot.times import as_utc

log = logging.getLogger(__name__)


class StormAxis(StrEnum):
    """What the failures of one storm share; the value is the stored key's prefix."""

    SOURCE_HOST = "host"
    DEST_HOST = "dest"
    CAUSE = "cause"  # the exception class of the error


@dataclass(frozen=True, slots=True)
class StormKey:
    """What one incident groups by: ``StormKey(StormAxis.SOURCE_HOST, "cmp-a-01")``."""

    axis: StormAxis
    value: str

    def __str__(self) -> str:
        """The stored form (``incidents.key``), e.g. ``host:cmp-a-01``."""
        return f"{self.axis.value}:{self.value}"

    @classmethod
    def stored(cls, text: str) -> StormKey:
        """The key of an ``incidents.key`` column, written by ``str(key)``."""
        axis, _, value = text.partition(":")
        return cls(StormAxis(axis), value)


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentSlot:
    """Where a case goes: the incident, and whether this call opened it (and must post it)."""

    incident_id: str
    key: StormKey
    channel: str
    parent_ts: str | None
    opened: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentMember:
    case_id: str
    instance_uuid: str | None
    migration: str | None
    source_host: str | None
    dest_host: str | None
    error: str | None
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentView:
    """The incident row and its members: what the parent message shows."""

    id: str
    key: StormKey
    channel: str
    parent_ts: str | None
    count: int
    opened_at: datetime
    members: tuple[IncidentMember, ...]
    # how many members are resolved, when ``members`` was not read (``summary``)
    resolved_count: int | None = None

    @property
    def resolved(self) -> int:
        if self.resolved_count is not None:
            return self.resolved_count
        return sum(1 for m in self.members if m.status == RESOLVED)


def _matches(key: StormKey) -> ColumnElement[bool]:
    if key.axis is StormAxis.SOURCE_HOST:
        return IntakeCaseRow.source_host == key.value
    if key.axis is StormAxis.DEST_HOST:
        return IntakeCaseRow.dest_host == key.value
    escaped = key.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return IntakeCaseRow.error.like(f"{escaped}:%", escape="\\")


RESOLVED = "resolved"  # IncidentMember.status of a member whose case is resolved


async def incidents_of_case(store: Store, case_id: str) -> list[str]:
    """The incidents the case is a member of."""
    async with store.sessions() as session:
        rows = await session.scalars(
            select(IncidentMemberRow.incident_id).where(
                IncidentMemberRow.case_id == case_id
            )
        )
        return list(rows.all())


class IncidentRepo:
    def __init__(self, intake: IntakeRepo) -> None:
        self.intake = intake
        self.sessions = intake.store.sessions

    async def assign(
        self,
        case_id: str,
        key: StormKey,
        *,
        channel: str,
        threshold: int,
        window_s: float,
        now: datetime,
    ) -> IncidentSlot | None:
        """Put the case into the key's open incident, opening one at the threshold."""
        for _ in range(3):
            try:
                async with self.sessions.begin() as session:
                    return await self._assign(
                        session, case_id, key, channel, threshold, window_s, now
                    )
            except IntegrityError:
                continue  # another replica opened the incident between our read and insert
        return None

    async def _assign(
        self,
        session: AsyncSession,
        case_id: str,
        key: StormKey,
        channel: str,
        threshold: int,
        window_s: float,
        now: datetime,
    ) -> IncidentSlot | None:
        since = now - timedelta(seconds=window_s)
        incident = await session.scalar(
            select(IncidentRow)
            .where(IncidentRow.key == str(key), IncidentRow.closed_at.is_(None))
            .with_for_update()
        )
        if incident is not None and as_utc(incident.last_at) < since:
            incident.closed_at = now  # the storm is over; a new one gets a new parent
            await session.flush()
            incident = None
        opened = False
        if incident is None:
            recent = select(IntakeCaseRow).where(
                _matches(key),
                IntakeCaseRow.created_at >= since,
                IntakeCaseRow.status != WAITING,
            )
            rows = list((await session.scalars(recent)).all())
            if len(rows) < threshold:
                return None
            incident = IncidentRow(
                id=new_id("inc"),
                key=str(key),
                channel=channel,
                count=0,
                opened_at=now,
                last_at=now,
            )
            session.add(incident)
            await session.flush()  # IntegrityError here: someone else just opened it
            opened = True
            # cases posted on their own before the storm was recognised: listed, not re-posted
            for row in rows:
                if row.status == POSTED and row.incident_id is None:
                    await self._add_member(session, incident, row.case_id, now)
        await self._add_member(session, incident, case_id, now)
        return IncidentSlot(
            incident_id=incident.id,
            key=key,
            channel=incident.channel,
            parent_ts=incident.parent_ts,
            opened=opened,
        )

    async def _add_member(
        self, session: AsyncSession, incident: IncidentRow, case_id: str, now: datetime
    ) -> None:
        if await session.get(IncidentMemberRow, (incident.id, case_id)) is not None:
            return  # a lease taken over after a crash: already a member
        session.add(
            IncidentMemberRow(incident_id=incident.id, case_id=case_id, added_at=now)
        )
        incident.count += 1
        # report times, not dispatch order: a late-dispatched old report never rewinds it
        incident.last_at = max(as_utc(incident.last_at), now)
        await session.execute(
            update(IntakeCaseRow)
            .where(IntakeCaseRow.case_id == case_id)
            .values(incident_id=incident.id)
        )

    async def set_parent(self, incident_id: str, parent_ts: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id)
                .values(parent_ts=parent_ts)
            )

    async def wait_parent(self, incident_id: str, timeout_s: float = 60.0) -> str:
        """The parent's ts once its opener (maybe another replica) has posted it."""
        async with asyncio.timeout(timeout_s):
            while True:
                view = await self.view(incident_id)
                if view.parent_ts:
                    return view.parent_ts
                await asyncio.sleep(0.1)  # polling a row written by another process

    async def view(self, incident_id: str) -> IncidentView:
        async with self.sessions() as session:
            incident = await session.get(IncidentRow, incident_id)
            if incident is None:
                raise KeyError(incident_id)
            query: Any = (
                select(IntakeCaseRow)
                .join(
                    IncidentMemberRow,
                    IncidentMemberRow.case_id == IntakeCaseRow.case_id,
                )
                .where(IncidentMemberRow.incident_id == incident_id)
                .order_by(IncidentMemberRow.added_at, IntakeCaseRow.case_id)
            )
            rows = (await session.scalars(query)).all()
            resolved = set(
                (
                    await session.scalars(
                        select(CaseResolutionRow.case_id).where(
                            CaseResolutionRow.resolved,
                            CaseResolutionRow.case_id.in_([r.case_id for r in rows]),
                        )
                    )
                ).all()
            )
            members = tuple(
                IncidentMember(
                    case_id=r.case_id,
                    instance_uuid=r.instance_uuid,
                    migration=r.migration,
                    source_host=r.source_host,
                    dest_host=r.dest_host,
                    error=r.error,
                    # a resolved case shows as such, whatever its posting state
                    status=RESOLVED if r.case_id in resolved else r.status,
                )
                for r in rows
            )
            return IncidentView(
                id=incident.id,
                key=StormKey.stored(incident.key),
                channel=incident.channel,
                parent_ts=incident.parent_ts,
                count=incident.count,
                opened_at=as_utc(incident.opened_at),
                members=members,
            )

    async def summary(self, incident_id: str) -> IncidentView:
        """The incident row with its resolved count but not its members: what a storm
        parent's refresh needs, in memory whatever the storm's size."""
        async with self.sessions() as session:
            incident = await session.get(IncidentRow, incident_id)
            if incident is None:
                raise KeyError(incident_id)
            resolved = await session.scalar(
                select(func.count())
                .select_from(IncidentMemberRow)
                .join(
                    CaseResolutionRow,
                    CaseResolutionRow.case_id == IncidentMemberRow.case_id,
                )
                .where(
                    IncidentMemberRow.incident_id == incident_id,
                    CaseResolutionRow.resolved,
                )
            )
            return IncidentView(
                id=incident.id,
                key=StormKey.stored(incident.key),
                channel=incident.channel,
                parent_ts=incident.parent_ts,
                count=incident.count,
                opened_at=as_utc(incident.opened_at),
                members=(),
                resolved_count=int(resolved or 0),
            )

    async def open_incidents(self) -> list[str]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(IncidentRow.id).where(IncidentRow.closed_at.is_(None))
            )
            return list(rows.all())
