"""Persistent state of the bot: cases, runs and escalations (SQLAlchemy 2, async)."""

from __future__ import annotations

from bot.store.repo import CaseRecord, EscalationRecord, HistoryEntry, RunRecord, Store

__all__ = ["CaseRecord", "EscalationRecord", "HistoryEntry", "RunRecord", "Store"]
