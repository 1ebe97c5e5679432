"""Whether a case is resolved, and by what: ``case_resolutions``, one row per case.

Free functions over a :class:`~bot.store.repo.Store` (as ``history.py``): resolving writes
the row and its timeline entry in one transaction, so a restart never sees one without
the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.store.loop_models import CaseEventRow, CaseResolutionRow
from bot.store.models import CaseRow
from bot.store.repo import CaseRecord, Store, _case
from bot.times import as_utc
from diagnostics.evidence.redact import redact


class ResolvedVia(StrEnum):
    USER = "user"  # the Resolve button or `@migrate-diag resolve <reason>`
    POLLER = "poller"  # a later migration seen completed in /os-migrations
    NOTIFICATION = "notification"  # a later migration's success notification
    WATCH = "watch"  # the bot following the move it started (bot.actions.watch)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    case_id: str
    resolved: bool
    at: datetime
    by: str | None  # Slack user id; None when the bot saw the VM move
    reason: str
    via: ResolvedVia
    migration_id: str | None = None
    source_host: str | None = None
    dest_host: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SuccessfulMove:
    """A later migration of the VM that succeeded: what resolves a case by itself."""

    migration_id: str | None
    source_host: str | None
    dest_host: str | None
    at: datetime
    via: ResolvedVia


def _resolution(row: CaseResolutionRow) -> Resolution:
    return Resolution(
        case_id=row.case_id,
        resolved=row.resolved,
        at=as_utc(row.at),
        by=row.by,
        reason=row.reason,
        via=ResolvedVia(row.via),
        migration_id=row.migration_id,
        source_host=row.source_host,
        dest_host=row.dest_host,
    )


async def resolution_of(store: Store, case_id: str) -> Resolution | None:
    """The case's resolution row (resolved or reopened), None if never resolved."""
    async with store.sessions() as session:
        row = await session.get(CaseResolutionRow, case_id)
        return _resolution(row) if row else None


async def resolve(
    store: Store,
    case_id: str,
    *,
    reason: str,
    by: str | None = None,
    move: SuccessfulMove | None = None,
) -> Resolution | None:
    """Mark the case resolved; None when it already is (the first resolution stays).

    Safe when several sources resolve the same case at once (the bot's watch and a
    notification, two replicas): the write is a conditional UPDATE of a reopened row or
    the INSERT of the case's one row (its primary key), so exactly one of them wins and the
    others get None, on SQLite and PostgreSQL alike.
    """
    now = datetime.now(UTC)
    values = {
        "resolved": True,
        "at": move.at if move else now,
        "by": by,
        "reason": redact(reason)[:500],
        "via": (move.via if move else ResolvedVia.USER).value,
        "migration_id": move.migration_id if move else None,
        "source_host": move.source_host if move else None,
        "dest_host": move.dest_host if move else None,
    }
    event = CaseEventRow(
        case_id=case_id, at=now, actor=by, kind="resolved", text=values["reason"]
    )
    try:
        async with store.sessions.begin() as session:
            reopened = await session.execute(
                update(CaseResolutionRow)
                .where(
                    CaseResolutionRow.case_id == case_id,
                    CaseResolutionRow.resolved.is_(False),
                )
                .values(**values)
            )
            if not _rowcount(reopened):
                if await session.get(CaseResolutionRow, case_id) is not None:
                    return None  # resolved already
                session.add(CaseResolutionRow(case_id=case_id, **values))
            session.add(event)
    except IntegrityError:  # another source inserted the row first: theirs stands
        return None
    return _resolution(CaseResolutionRow(case_id=case_id, **values))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def reopen(store: Store, case_id: str, *, by: str) -> Resolution | None:
    """Undo a resolution; None when the case is not resolved."""
    now = datetime.now(UTC)
    async with store.sessions.begin() as session:
        row = await session.get(CaseResolutionRow, case_id, with_for_update=True)
        if row is None or not row.resolved:
            return None
        row.resolved = False
        session.add(
            CaseEventRow(
                case_id=case_id,
                at=now,
                actor=by,
                kind="reopened",
                text=f"reopened (was: {row.reason})"[:500],
            )
        )
    return _resolution(row)


async def open_cases_of_vm(
    store: Store, vm_id: str, *, before: datetime
) -> list[CaseRecord]:
    """Cases of this VM opened before ``before`` that are not resolved, oldest first."""
    resolved = select(CaseResolutionRow.case_id).where(CaseResolutionRow.resolved)
    query = (
        select(CaseRow)
        .where(
            CaseRow.vm_id == vm_id,
            CaseRow.created_at < before,
            CaseRow.id.not_in(resolved),
        )
        .order_by(CaseRow.created_at)
    )
    async with store.sessions() as session:
        return [_case(row) for row in (await session.scalars(query)).all()]


async def case_in_thread(store: Store, channel: str, ts: str) -> CaseRecord | None:
    """The case whose parent is (or whose thread is rooted at) this message."""
    query = select(CaseRow).where(CaseRow.channel == channel, CaseRow.parent_ts == ts)
    async with store.sessions() as session:
        row = (await session.scalars(query.limit(1))).first()
        return _case(row) if row else None
