"""A case's timeline: who did what, when — from every table that holds a part of it.

Opening, diagnoses, the claim and escalations already have their rows (``cases``,
``runs``, ``escalations``); what has no other home (resolve, reopen, thread commands)
is a ``case_events`` row. ``timeline`` merges them, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from bot.store.loop_models import CaseEventRow
from bot.store.models import CaseRow, EscalationRow, RunRow
from bot.store.repo import Store
from bot.times import as_utc
from diagnostics.evidence.redact import redact


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    at: datetime
    actor: str | None  # Slack user id; None: the bot
    kind: str  # opened, diagnosed, claimed, escalated, resolved, reopened, command, ...
    text: str


async def record_event(
    store: Store, case_id: str, *, actor: str | None, kind: str, text: str
) -> TimelineEntry:
    """Add one entry (text redacted, at most 500 characters)."""
    entry = TimelineEntry(
        at=datetime.now(UTC), actor=actor, kind=kind, text=redact(text)[:500]
    )
    async with store.sessions.begin() as session:
        session.add(
            CaseEventRow(
                case_id=case_id,
                at=entry.at,
                actor=entry.actor,
                kind=entry.kind,
                text=entry.text,
            )
        )
    return entry


async def timeline(store: Store, case_id: str) -> list[TimelineEntry]:
    """Every entry of the case, oldest first; [] for an unknown case."""
    async with store.sessions() as session:
        case = await session.get(CaseRow, case_id)
        if case is None:
            return []
        entries = [
            TimelineEntry(
                at=as_utc(case.created_at),
                actor=None,
                kind="opened",
                text=f"case opened for {case.vm_name} (from {case.source})",
            )
        ]
        runs = await session.scalars(select(RunRow).where(RunRow.case_id == case_id))
        entries += [
            TimelineEntry(
                at=as_utc(run.created_at),
                actor=run.requested_by,
                kind="diagnosed",
                text=f"diagnosis {run.id}: verdict {run.verdict}",
            )
            for run in runs.all()
        ]
        if case.claimed_by and case.claimed_at:
            entries.append(
                TimelineEntry(
                    at=as_utc(case.claimed_at),
                    actor=case.claimed_by,
                    kind="claimed",
                    text="claimed the case",
                )
            )
        pages = await session.scalars(
            select(EscalationRow).where(EscalationRow.case_id == case_id)
        )
        entries += [
            TimelineEntry(
                at=as_utc(page.at),
                actor=page.user_id,
                kind="escalated",
                text=f"escalated to on-call (PagerDuty: {page.status})",
            )
            for page in pages.all()
        ]
        own = await session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id)
        )
        entries += [
            TimelineEntry(at=as_utc(e.at), actor=e.actor, kind=e.kind, text=e.text)
            for e in own.all()
        ]
    return sorted(entries, key=lambda e: e.at)
