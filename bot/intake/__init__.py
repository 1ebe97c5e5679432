"""Intake of automatic failure reports: Nova notifications, the migrations poller, a webhook.

Every source turns what it sees into a :class:`bot.intake.events.FailureReport`; the case
manager (``bot.cases``) deduplicates, groups storms and hands cases to the poster.
"""

from __future__ import annotations

from bot.intake.events import FailureReport, MalformedEvent, ReportSource

__all__ = ["FailureReport", "MalformedEvent", "ReportSource"]
