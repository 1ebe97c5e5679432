"""Persistent state of the bot, SQL only (SQLAlchemy 2, async; Alembic migrations).

- ``models.py``, ``intake_models.py`` — the tables.
- ``repo.py`` — ``Store``: cases, runs, claims and escalations.
- ``intake_repo.py`` (+ ``intake_bookkeeping.py``) — dedupe claims, posting leases.
- ``incident_repo.py`` — storm incidents and their members.
- ``storm_repo.py`` (+ ``storm_models.py``) — a storm parent's cause groups, their members
  and counts, the reply claims and the refresher's lease.
- ``history.py`` — the audit-trail query (``migrate-diag history``).

The rules these run (dedupe, storms, routing) are in :mod:`bot.cases`.
"""

from __future__ import annotations

from bot.store.repo import CaseRecord, CaseState, EscalationRecord, RunRecord, Store

__all__ = ["CaseRecord", "CaseState", "EscalationRecord", "RunRecord", "Store"]
