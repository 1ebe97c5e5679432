"""Show a resolution (or a reopening) in Slack: the parent re-rendered, a note in the thread."""

from __future__ import annotations

from bot.posting.case_poster import SlackCasePoster
from bot.rendering import resolved_line
from bot.store import CaseRecord
from bot.store.resolution_repo import Resolution
from bot.textsafe import user_mention


class SlackResolutionPoster:
    """``bot.cases.resolution.ResolutionPoster`` over the bot's one writer."""

    def __init__(self, poster: SlackCasePoster) -> None:
        self.poster = poster

    async def _note(self, case: CaseRecord, text: str) -> None:
        thread = case.thread_ts or case.parent_ts
        if thread is not None:  # queued behind whatever the thread already has
            await self.poster.writer.post(case.channel, None, text, thread_ts=thread)

    async def show_resolved(self, case: CaseRecord, resolution: Resolution) -> None:
        await self.poster.refresh_parent(case.id)
        await self._note(case, resolved_line(resolution))

    async def show_reopened(self, case: CaseRecord, by: str) -> None:
        await self.poster.refresh_parent(case.id)
        await self._note(case, f"↩️ {user_mention(by)} reopened the case.")
