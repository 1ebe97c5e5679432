"""A followed move in its case's thread: one progress reply kept up to date, then the end.

``bot.actions.watch`` drives it. The progress reply is edited in place (chat.update: no
new notification per status); how the move ended is a new reply, so people see it.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock

from bot.posting.case_poster import SlackCasePoster
from bot.rendering import RERUN, md
from bot.store import CaseRecord


class MoveThread:
    """The watch's progress reply (edited in place) and its final reply."""

    def __init__(self, poster: SlackCasePoster, case: CaseRecord) -> None:
        self.poster = poster
        self.case = case
        self.thread = case.thread_ts or case.parent_ts
        self.progress_ts: str | None = None
        self.shown = ""

    async def progress(self, text: str) -> None:
        if self.thread is None or text == self.shown:
            return
        self.shown = text
        writer = self.poster.writer
        if self.progress_ts is None:
            self.progress_ts = await writer.post(
                self.case.channel, None, text, thread_ts=self.thread
            )
        else:
            await writer.update(self.case.channel, self.progress_ts, None, text)

    async def reply(
        self, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        if self.thread is not None:
            await self.poster.writer.post(
                self.case.channel, blocks, text, thread_ts=self.thread
            )


def with_rerun(text: str, case_id: str) -> list[dict[str, Any]]:
    """The failure, and Re-run: a person decides to diagnose again, never a loop."""
    return [
        SectionBlock(text=md(text)).to_dict(),
        ActionsBlock(
            elements=[ButtonElement(text="Re-run", action_id=RERUN, value=case_id)]
        ).to_dict(),
    ]
