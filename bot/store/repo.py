"""The store: cases, runs and escalations behind a small async API.

``Store.open(url)`` brings the schema to the newest Alembic revision first, so a fresh
SQLite file and an existing PostgreSQL database are handled the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.store.models import CaseRow, EscalationRow, RunRow
from diagnostics.evidence.redact import redact, redact_strings
from diagnostics.model import Diagnosis, MigrationKind
from diagnostics.report.json import from_dict, to_dict
from diagnostics.times import as_utc

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key of the schema upgrade (any constant every replica shares)
MIGRATION_LOCK = 0x6D6967726174  # "migrat"
SQLITE_BUSY_S = 30.0


class CaseState(StrEnum):
    """Where a case's diagnosis stands (``cases.state``); None: never started."""

    DIAGNOSING = "diagnosing"  # leased by a process that renews it
    DIAGNOSED = "diagnosed"  # a run is recorded, the parent shows it
    FAILED = (
        "failed"  # the diagnosis could not finish; the parent (or the user) was told
    )
    UNDELIVERABLE = "undeliverable"  # Slack would not take the parent (state_reason)
    INTERRUPTED = "interrupted"  # its process died and the re-run could not start


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRecord:
    id: str
    vm_id: str | None
    vm_name: str
    migration_id: str | None
    target_host: str | None
    kind: (
        MigrationKind | None
    )  # what the operator named (--kind), so a re-run repeats it
    channel: str
    parent_ts: str | None
    thread_ts: str | None
    source: str
    created_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    state: CaseState | None = None
    state_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    id: str
    case_id: str
    diagnosis: Diagnosis
    verdict: str
    requested_by: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationRecord:
    case_id: str
    user_id: str
    dedup_key: str
    at: datetime
    status: str

    @property
    def accepted(self) -> bool:
        """PagerDuty took the page (``bot.escalation.EscalationResult.status``)."""
        return self.status == "accepted"


def _case(row: CaseRow) -> CaseRecord:
    return CaseRecord(
        id=row.id,
        vm_id=row.vm_id,
        vm_name=row.vm_name,
        migration_id=row.migration_id,
        target_host=row.target_host,
        kind=MigrationKind(row.kind) if row.kind else None,
        channel=row.channel,
        parent_ts=row.parent_ts,
        thread_ts=row.thread_ts,
        source=row.source,
        created_at=as_utc(row.created_at),
        claimed_by=row.claimed_by,
        claimed_at=as_utc(row.claimed_at) if row.claimed_at else None,
        state=CaseState(row.state) if row.state else None,
        state_reason=row.state_reason,
    )


def _run(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        case_id=row.case_id,
        diagnosis=from_dict(row.diagnosis),
        verdict=row.verdict,
        requested_by=row.requested_by,
        created_at=as_utc(row.created_at),
    )


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect and run the Alembic migrations up to head (under a PostgreSQL advisory
        lock, so replicas may start together on an empty database)."""
        # SQLite: writers of several processes (replicas on one file) queue for its one
        # write lock; wait for it as long as a busy storm needs rather than sqlite3's 5 s
        options: dict[str, Any] = (
            {"connect_args": {"timeout": SQLITE_BUSY_S}}
            if url.startswith("sqlite")
            else {}
        )
        engine = create_async_engine(url, **options)
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # replicas starting together: one upgrades, the others wait here and then
                # find the schema at head (held until this transaction ends)
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def create_case(
        self,
        *,
        vm_name: str,
        channel: str,
        source: str,
        migration_id: str | None = None,
        target_host: str | None = None,
        kind: MigrationKind | None = None,
        case_id: str | None = None,
    ) -> CaseRecord:
        row = CaseRow(
            id=case_id or new_id("case"),
            vm_name=vm_name,
            migration_id=migration_id,
            target_host=target_host,
            kind=kind,
            channel=channel,
            source=source,
            created_at=datetime.now(UTC),
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return _case(row)

    async def get_case(self, case_id: str) -> CaseRecord | None:
        async with self.sessions() as session:
            row = await session.get(CaseRow, case_id)
            return _case(row) if row else None

    async def _update_case(self, case_id: str, **values: Any) -> CaseRecord:
        async with self.sessions.begin() as session:
            row = await session.get(CaseRow, case_id)
            if row is None:
                raise KeyError(case_id)
            for key, value in values.items():
                setattr(row, key, value)
        return _case(row)

    async def set_parent(
        self,
        case_id: str,
        *,
        channel: str,
        parent_ts: str,
        thread_ts: str | None = None,
    ) -> CaseRecord:
        return await self._update_case(
            case_id, channel=channel, parent_ts=parent_ts, thread_ts=thread_ts
        )

    async def set_thread(
        self, case_id: str, *, channel: str, thread_ts: str, vm_name: str
    ) -> CaseRecord:
        """A storm member: it lives in the incident's thread, without a parent of its own
        until someone asks for it (``show <vm>``)."""
        return await self._update_case(
            case_id, channel=channel, thread_ts=thread_ts, vm_name=vm_name
        )

    async def find_in_thread(
        self, channel: str, thread_ts: str, vm: str
    ) -> CaseRecord | None:
        """The case of ``vm`` (its name or uuid) among the thread's cases, newest first."""
        query = (
            select(CaseRow)
            .where(
                CaseRow.channel == channel,
                CaseRow.thread_ts == thread_ts,
                (CaseRow.vm_name == vm) | (CaseRow.vm_id == vm),
            )
            .order_by(CaseRow.created_at.desc())
            .limit(1)
        )
        async with self.sessions() as session:
            row = await session.scalar(query)
            return _case(row) if row else None

    async def record_run(
        self, case_id: str, diagnosis: Diagnosis, requested_by: str | None
    ) -> RunRecord:
        row = RunRow(
            id=new_id("run"),
            case_id=case_id,
            # already redacted where its text entered the model; again, as it is stored
            diagnosis=redact_strings(to_dict(diagnosis)),
            verdict=diagnosis.verdict,
            requested_by=requested_by,
            created_at=datetime.now(UTC),
        )
        async with self.sessions.begin() as session:
            session.add(row)
            case = await session.get(CaseRow, case_id)
            if case is not None and case.vm_id is None:
                case.vm_id = diagnosis.vm.id
        return _run(row)

    async def get_run(self, run_id: str) -> RunRecord | None:
        async with self.sessions() as session:
            row = await session.get(RunRow, run_id)
            return _run(row) if row else None

    async def latest_runs(self, case_id: str, limit: int = 2) -> list[RunRecord]:
        """The case's most recent runs, newest first."""
        query = (
            select(RunRow)
            .where(RunRow.case_id == case_id)
            .order_by(RunRow.created_at.desc(), RunRow.id.desc())
            .limit(limit)
        )
        async with self.sessions() as session:
            return [_run(row) for row in (await session.scalars(query)).all()]

    async def claim(self, case_id: str, user_id: str) -> CaseRecord:
        return await self._update_case(
            case_id, claimed_by=user_id, claimed_at=datetime.now(UTC)
        )

    async def record_escalation(
        self, case_id: str, *, user_id: str, dedup_key: str, status: str
    ) -> EscalationRecord:
        row = EscalationRow(
            case_id=case_id,
            user_id=user_id,
            dedup_key=dedup_key,
            at=datetime.now(UTC),
            status=redact(status),  # PagerDuty's answer, verbatim otherwise
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return EscalationRecord(
            case_id=row.case_id,
            user_id=row.user_id,
            dedup_key=row.dedup_key,
            at=row.at,
            status=row.status,
        )

    async def escalations(self, case_id: str) -> list[EscalationRecord]:
        query = (
            select(EscalationRow)
            .where(EscalationRow.case_id == case_id)
            .order_by(EscalationRow.id)
        )
        async with self.sessions() as session:
            return [
                EscalationRecord(
                    case_id=r.case_id,
                    user_id=r.user_id,
                    dedup_key=r.dedup_key,
                    at=as_utc(r.at),
                    status=r.status,
                )
                for r in (await session.scalars(query)).all()
            ]

    # ---- the diagnosing lease (a process that dies leaves its cases to be taken over) --

    async def start_diagnosing(
        self, case_id: str, *, owner: str, until: datetime
    ) -> None:
        await self._update_case(
            case_id,
            state=CaseState.DIAGNOSING.value,
            state_reason=None,
            state_owner=owner,
            state_until=until,
        )

    async def renew_diagnosing(
        self, case_id: str, *, owner: str, until: datetime
    ) -> bool:
        """Extend the lease; False when it is no longer this owner's."""
        query = (
            update(CaseRow)
            .where(
                CaseRow.id == case_id,
                CaseRow.state == CaseState.DIAGNOSING.value,
                CaseRow.state_owner == owner,
            )
            .values(state_until=until)
        )
        async with self.sessions.begin() as session:
            return bool((await session.execute(query)).rowcount)  # type: ignore[attr-defined]

    async def end_case(
        self, case_id: str, state: CaseState, reason: str | None = None
    ) -> None:
        await self._update_case(
            case_id,
            state=state.value,
            state_reason=reason,
            state_owner=None,
            state_until=None,
        )

    async def take_stale(
        self,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        sources: tuple[str, ...],
        limit: int = 20,
    ) -> list[CaseRecord]:
        """Cases left diagnosing by a process whose lease ran out, now leased to ``owner``.

        Only cases from ``sources``, or any case with a run already (a re-run): the
        caller says which cases nobody else takes over. Each takeover is one conditional
        UPDATE, so two processes never take the same case.
        """
        has_run = select(RunRow.id).where(RunRow.case_id == CaseRow.id).exists()
        stale = (
            select(CaseRow.id)
            .where(
                CaseRow.state == CaseState.DIAGNOSING.value,
                CaseRow.state_until < now,
                or_(CaseRow.source.in_(sources), has_run),
            )
            .order_by(CaseRow.created_at)
            .limit(limit)
        )
        taken: list[CaseRecord] = []
        async with self.sessions() as session:
            ids = list((await session.scalars(stale)).all())
        for case_id in ids:
            grab = (
                update(CaseRow)
                .where(
                    CaseRow.id == case_id,
                    CaseRow.state == CaseState.DIAGNOSING.value,
                    CaseRow.state_until < now,
                )
                .values(state_owner=owner, state_until=until)
            )
            async with self.sessions.begin() as session:
                if (await session.execute(grab)).rowcount:  # type: ignore[attr-defined]
                    row = await session.get(CaseRow, case_id)
                    if row is not None:
                        taken.append(_case(row))
        return taken
