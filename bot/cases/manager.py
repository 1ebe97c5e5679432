"""The case runner: one case per failed migration, whatever reports it, posted once.

Flow: an intake source calls :meth:`CaseManager.submit` (durable claim; the source acks
its message only after this returns), then :meth:`CaseManager.dispatch_due` leases the
cases whose group wait has passed, routes them to a channel, groups storms into incidents
and hands them to a :class:`CasePoster` (the Slack side's ``SlackCasePoster``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.cases.dedupe import JoinRules, sighting
from bot.cases.report import FailureReport
from bot.cases.routing import route_channel
from bot.cases.storms import join_storm
from bot.settings import BotSettings
from bot.store.incident_repo import IncidentRepo, IncidentSlot, IncidentView
from bot.store.intake_repo import Claim, IntakeRepo, LeasedCase
from bot.store.repo import Store
from bot.times import utcnow
from diagnostics.model import MigrationRef

log = logging.getLogger(__name__)


class CasePoster(Protocol):
    """Diagnose and post one case (``bot.posting.SlackCasePoster``; tests record)."""

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
    ) -> None: ...


class IncidentPoster(Protocol):
    """Posts and refreshes an incident's parent (``bot.posting.SlackIncidentPoster``)."""

    async def post_incident(
        self, view: IncidentView
    ) -> str: ...  # returns the parent ts

    async def update_incident(self, view: IncidentView) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    case: LeasedCase
    channel: str
    slot: IncidentSlot | None


class CaseManager:
    """Turns reports into cases and cases into posts; safe to run as several replicas."""

    def __init__(
        self,
        settings: BotSettings,
        store: Store,
        poster: CasePoster,
        incident_poster: IncidentPoster,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        lease_s: float = 600.0,
    ) -> None:
        self.settings = settings
        self.intake = IntakeRepo(store)
        self.correlation_window = timedelta(
            seconds=settings.intake.correlation_window_s
        )
        self.incidents = IncidentRepo(self.intake)
        self.poster = poster
        self.incident_poster = incident_poster
        self.owner = owner or f"replica-{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.lease_s = lease_s
        self._slots = asyncio.Semaphore(settings.intake.storms.max_concurrent)
        self._wake = asyncio.Event()
        self._last_update: dict[str, float] = {}
        self._update_lock = asyncio.Lock()

    async def submit(self, report: FailureReport) -> Claim:
        """Store the report durably (new case or joined to its case). Ack after this."""
        now = self.clock()
        due = now + timedelta(seconds=self.settings.intake.storms.group_wait_s)
        claim = await self.intake.claim(
            sighting(report),
            JoinRules(report, self.correlation_window, now),
            channel=None,
            due_at=due,
            now=now,
        )
        log.info(
            "%s report %s: %s case %s",
            report.source.value,
            report.describe(),
            "new" if claim.new else "joined",
            claim.case_id,
        )
        self._wake.set()
        return claim

    async def dispatch_due(self) -> int:
        """Post every case whose group wait has passed; returns how many were posted."""
        now = self.clock()
        leased = await self.intake.lease_due(self.owner, now=now, lease_s=self.lease_s)
        if not leased:
            return 0
        storms = self.settings.intake.storms
        jobs: list[_Job] = []
        for case in leased:
            channel = route_channel(
                case, self.settings.intake.routes, self.settings.slack.default_channel
            )
            if channel is None:
                log.error(
                    "no channel for case %s: set slack.default_channel", case.case_id
                )
                await self.intake.finish(
                    case.case_id, self.owner, posted=False, now=now
                )
                continue
            await self.intake.set_channel(case.case_id, channel)
            slot = await join_storm(
                self.incidents, case, channel=channel, storms=storms, now=now
            )
            if slot is not None and slot.opened:
                view = await self.incidents.view(slot.incident_id)
                parent_ts = await self.incident_poster.post_incident(view)
                await self.incidents.set_parent(slot.incident_id, parent_ts)
                log.info(
                    "incident %s (%s) opened in %s", slot.incident_id, slot.key, channel
                )
            jobs.append(_Job(case=case, channel=channel, slot=slot))
        results = await asyncio.gather(*(self._post(job) for job in jobs))
        for incident_id in {job.slot.incident_id for job in jobs if job.slot}:
            await self._refresh_incident(incident_id, force=True)
        return sum(results)

    async def _post(self, job: _Job) -> bool:
        case = job.case
        ref = MigrationRef(
            server=case.instance_uuid,
            migration_id=case.migration,
            kind=case.kind,
        )
        async with self._slots:  # bounded concurrency of diagnoses
            try:
                thread_ts = None
                if job.slot is not None:
                    thread_ts = job.slot.parent_ts or await self.incidents.wait_parent(
                        job.slot.incident_id
                    )
                await self.poster.post_case(
                    case.case_id, ref, job.channel, thread_ts=thread_ts
                )
            except Exception:
                # the case stays durable and is retried on the next dispatch
                log.exception("posting case %s failed", case.case_id)
                await self.intake.finish(
                    case.case_id, self.owner, posted=False, now=self.clock()
                )
                return False
        await self.intake.finish(
            case.case_id, self.owner, posted=True, now=self.clock()
        )
        if job.slot is not None:
            await self._refresh_incident(job.slot.incident_id, force=False)
        return True

    async def _refresh_incident(self, incident_id: str, *, force: bool) -> None:
        """Update the parent's count and table, at most once per update interval."""
        loop = asyncio.get_running_loop()
        async with self._update_lock:
            last = self._last_update.get(incident_id)
            interval = self.settings.slack.update_interval_s
            if not force and last is not None and loop.time() - last < interval:
                return
            self._last_update[incident_id] = loop.time()
            view = await self.incidents.view(incident_id)
            if view.parent_ts is None:
                return
            try:
                await self.incident_poster.update_incident(view)
            except Exception:
                log.exception("updating incident %s failed", incident_id)

    async def run(self, stop: asyncio.Event, poll_s: float = 1.0) -> None:
        """Dispatch until ``stop`` is set; woken early by new reports."""
        while not stop.is_set():
            try:
                await self.dispatch_due()
            except Exception:
                log.exception("dispatching cases failed; retrying")
            self._wake.clear()
            group_wait = self.settings.intake.storms.group_wait_s
            # new reports wake the loop, but only matter at once when there is no group wait
            wait = min(poll_s, group_wait) if group_wait > 0 else poll_s
            stop_task = asyncio.ensure_future(stop.wait())
            wake_task = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait(
                    {stop_task, wake_task},
                    timeout=wait,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stop_task.cancel()
                wake_task.cancel()
