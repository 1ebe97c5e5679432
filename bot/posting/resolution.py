"""Show a resolution (or a reopening) in Slack: the parent re-rendered, a note in the thread."""

from __future__ import annotations

from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.rendering import resolved_line
from bot.store import CaseRecord
from bot.store.incident_repo import IncidentRepo, incidents_of_case
from bot.store.intake_repo import IntakeRepo
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

    async def _incidents(self, case: CaseRecord) -> None:
        """The incident parents the case is in: their breakdowns count it resolved now
        (through the storm board, which spends the update budget)."""
        store = self.poster.services.store
        incidents = IncidentRepo(IntakeRepo(store))
        parents = SlackIncidentPoster(self.poster.writer, self.poster.storms)
        for incident_id in await incidents_of_case(store, case.id):
            await parents.update_incident(await incidents.summary(incident_id))

    async def show_resolved(self, case: CaseRecord, resolution: Resolution) -> None:
        await self.poster.refresh_parent(case.id)
        await self._note(case, resolved_line(resolution))
        await self._incidents(case)

    async def show_reopened(self, case: CaseRecord, by: str) -> None:
        await self.poster.refresh_parent(case.id)
        await self._note(case, f"↩️ {user_mention(by)} reopened the case.")
        await self._incidents(case)
