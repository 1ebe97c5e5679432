"""The fix audit (``fix_audit``): one row per button token, claimed before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.store.loop_models import CaseEventRow, FixAuditRow
from bot.store.repo import Store
from bot.times import as_utc
from diagnostics.evidence.redact import redact


@dataclass(frozen=True, slots=True, kw_only=True)
class FixAudit:
    case_id: str
    token: str
    user_id: str
    what: str
    at: datetime
    status: str
    request_id: str | None
    result: str


def _audit(row: FixAuditRow) -> FixAudit:
    return FixAudit(
        case_id=row.case_id,
        token=row.token,
        user_id=row.user_id,
        what=row.what,
        at=as_utc(row.at),
        status=row.status,
        request_id=row.request_id,
        result=row.result,
    )


async def claim_fix(
    store: Store, *, case_id: str, token: str, user_id: str, what: str
) -> tuple[FixAudit, bool]:
    """The token's row, and True when this call created it (only that caller may run)."""
    row = FixAuditRow(
        case_id=case_id,
        token=token,
        user_id=user_id,
        what=what,
        at=datetime.now(UTC),
        status="running",
        request_id=None,
        result="",
    )
    try:
        async with store.sessions.begin() as session:
            session.add(row)
        return _audit(row), True
    except IntegrityError:
        async with store.sessions() as session:
            found = (
                await session.scalars(
                    select(FixAuditRow).where(FixAuditRow.token == token)
                )
            ).one()
            return _audit(found), False


async def finish_fix(
    store: Store, token: str, *, status: str, result: str, request_id: str | None
) -> FixAudit:
    """Record the outcome (and a timeline entry) of the claimed fix."""
    async with store.sessions.begin() as session:
        row = (
            await session.scalars(select(FixAuditRow).where(FixAuditRow.token == token))
        ).one()
        row.status = status
        row.result = redact(result)[:1000]
        row.request_id = request_id
        session.add(
            CaseEventRow(
                case_id=row.case_id,
                at=datetime.now(UTC),
                actor=row.user_id,
                kind="fix",
                text=f"{row.what}: {status} ({row.result})"
                + (f" [request {request_id}]" if request_id else ""),
            )
        )
    return _audit(row)


async def fixes(store: Store, case_id: str) -> list[FixAudit]:
    query = (
        select(FixAuditRow)
        .where(FixAuditRow.case_id == case_id)
        .order_by(FixAuditRow.id)
    )
    async with store.sessions() as session:
        return [_audit(r) for r in (await session.scalars(query)).all()]
