"""What the intake sources write to: the case runner and the store's bookkeeping.

``CaseManager`` is the :class:`ReportSink`; ``IntakeRepo`` (``cases.intake``) is the
:class:`DeadLetters` and :class:`Watermarks`. Tests pass small fakes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.cases.report import FailureReport


class Claimed(Protocol):
    """The case a report was stored under (``bot.store.intake_repo.Claim``)."""

    @property
    def case_id(self) -> str: ...


class ReportSink(Protocol):
    """Where reports go: ``CaseManager.submit`` (returns once the case is stored)."""

    async def submit(self, report: FailureReport) -> Claimed: ...


class DeadLetters(Protocol):
    async def dead_letter(
        self, source: str, reason: str, body: bytes | str
    ) -> None: ...


class Watermarks(Protocol):
    async def watermark(self, name: str) -> datetime | None: ...

    async def set_watermark(self, name: str, value: datetime) -> None: ...
