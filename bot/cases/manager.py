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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.cases.dedupe import JoinRules, sighting
from bot.cases.outcomes import Terminal, describe, retry_delay, terminal
from bot.cases.report import FailureReport
from bot.cases.routing import route_channel
from bot.cases.storms import join_storm
from bot.metrics import INTAKE_REPORTS
from bot.settings import BotSettings
from bot.store.incident_repo import IncidentRepo, IncidentSlot, IncidentView
from bot.store.intake_repo import Claim, IntakeRepo, LeasedCase
from bot.store.repo import Store
from bot.times import utcnow
from diagnostics.model import MigrationRef

log = logging.getLogger(__name__)

_RECORD_ATTEMPTS = 5  # a posted case's bookkeeping: 0.2 + 0.4 + 0.8 + 1.6 s of waits
_RECORD_BACKOFF_S = 0.2


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


@runtime_checkable
class CaseNotices(Protocol):
    """A poster that can also say one line (a case that ended without a diagnosis)."""

    async def post_notice(
        self, channel: str, text: str, *, thread_ts: str | None = None
    ) -> None: ...


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
        self.lease_s = settings.intake.lease_s
        self.heartbeat_s = settings.intake.heartbeat_s
        # what this replica runs at once, and so all it leases
        self.max_concurrent = settings.intake.storms.max_concurrent
        self._wake = asyncio.Event()
        # the cases this replica is working now, across dispatch passes: a lease of ours
        # that ran out while we work it (a late heartbeat) is renewed, not run twice
        self._working: set[str] = set()
        # posted to Slack, not yet recorded so in the store (it did not answer)
        self._posted: set[str] = set()
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
        INTAKE_REPORTS.labels(
            source=report.source.value, outcome="new" if claim.new else "joined"
        ).inc()
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
        """Post every case due now, leasing only as many as there are free slots.

        Returns how many were posted. Each lease is short (``intake.lease_s``) and renewed
        by a heartbeat while the case is worked, so a replica that dies holds nothing for
        long; one that lost a lease (its heartbeat could not reach the database for a whole
        lease) stops working that case rather than post it twice.
        """
        posted = 0
        running: dict[asyncio.Task[bool], str] = {}
        touched: set[str] = set()
        heartbeat = asyncio.create_task(self._heartbeat(running), name="heartbeat")
        try:
            while True:
                free = self.max_concurrent - len(running)
                if free > 0:
                    for job in await self._lease(free):
                        task = asyncio.create_task(self._post(job))
                        running[task] = job.case.case_id
                        self._working.add(job.case.case_id)
                        if job.slot is not None:
                            touched.add(job.slot.incident_id)
                if not running:
                    break
                done, _ = await asyncio.wait(
                    running, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    case_id = running.pop(task)
                    self._working.discard(case_id)
                    if task.cancelled():
                        continue
                    if (error := task.exception()) is not None:
                        # one case's bookkeeping failing must not cancel the others
                        # mid-post; this one is leased again when its lease runs out
                        log.error("working case %s failed", case_id, exc_info=error)
                        continue
                    posted += task.result()
        finally:
            heartbeat.cancel()
            for task in running:
                task.cancel()
            await asyncio.gather(heartbeat, *running, return_exceptions=True)
            self._working.difference_update(running.values())
        for incident_id in touched:
            await self._refresh_incident(incident_id, force=True)
        return posted

    async def _lease(self, limit: int) -> list[_Job]:
        """Lease up to ``limit`` due cases, route them and open their storms."""
        now = self.clock()
        leased = await self.intake.lease_due(
            self.owner, now=now, lease_s=self.lease_s, limit=limit
        )
        already = {c.case_id for c in leased if c.case_id in self._posted}
        for case_id in already:
            log.warning(
                "case %s was posted; recording it, not posting it again", case_id
            )
            await self._record_posted(case_id)
        leased = [c for c in leased if c.case_id not in already]
        if lapsed := [c.case_id for c in leased if c.case_id in self._working]:
            # leasing them again renewed our lease; the task working them goes on
            log.warning("lease of %s ran out while working it; renewed", lapsed)
            leased = [c for c in leased if c.case_id not in self._working]
        storms = self.settings.intake.storms
        jobs: list[_Job] = []
        for case in leased:
            channel = route_channel(
                case, self.settings.intake.routes, self.settings.slack.default_channel
            )
            if channel is None:
                reason = "no channel to post in: set slack.default_channel or a route"
                log.error("case %s ends: %s", case.case_id, reason)
                await self.intake.fail(case.case_id, self.owner, reason=reason)
                continue
            await self.intake.set_channel(case.case_id, channel)
            # grouped by when it was reported (case.created_at), not by now
            slot = await join_storm(
                self.incidents, case, channel=channel, storms=storms
            )
            if slot is not None and slot.opened:
                view = await self.incidents.view(slot.incident_id)
                parent_ts = await self.incident_poster.post_incident(view)
                await self.incidents.set_parent(slot.incident_id, parent_ts)
                log.info(
                    "incident %s (%s) opened in %s", slot.incident_id, slot.key, channel
                )
            jobs.append(_Job(case=case, channel=channel, slot=slot))
        return jobs

    async def _heartbeat(self, running: Mapping[asyncio.Task[bool], str]) -> None:
        """Renew the leases of the cases being worked; cancel one whose lease was lost."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            working = dict(running)
            if not working:
                continue
            try:
                taken = await self.intake.renew(
                    self.owner, working.values(), now=self.clock(), lease_s=self.lease_s
                )
            except Exception:
                log.warning("renewing leases failed; retrying", exc_info=True)
                continue
            for task, case_id in working.items():
                if case_id in taken and not task.done():
                    log.error(
                        "lost the lease of case %s (another replica has it); stopping",
                        case_id,
                    )
                    task.cancel()

    async def _post(self, job: _Job) -> bool:
        case = job.case
        ref = MigrationRef(
            server=case.instance_uuid,
            migration_id=case.migration,
            kind=case.kind,
        )
        thread_ts = None
        try:
            if job.slot is not None:
                thread_ts = job.slot.parent_ts or await self.incidents.wait_parent(
                    job.slot.incident_id
                )
            await self.poster.post_case(
                case.case_id, ref, job.channel, thread_ts=thread_ts
            )
        except Exception as exc:
            await self._failed(job, exc, thread_ts)
            return False
        await self._record_posted(case.case_id)
        if job.slot is not None:
            await self._refresh_incident(job.slot.incident_id, force=False)
        return True

    async def _record_posted(self, case_id: str) -> None:
        """The case is in Slack: its bookkeeping is retried (a locked store, a failover),
        never the post. Should it still fail, the case is remembered as posted, so a
        later lease settles it instead of posting it again."""
        self._posted.add(case_id)
        for attempt in range(1, _RECORD_ATTEMPTS + 1):
            try:
                await self.intake.finish(
                    case_id, self.owner, posted=True, now=self.clock()
                )
            except Exception as exc:
                log.warning(
                    "recording case %s as posted failed (attempt %d of %d): %s",
                    case_id,
                    attempt,
                    _RECORD_ATTEMPTS,
                    describe(exc),
                )
                if attempt == _RECORD_ATTEMPTS:
                    return
                await asyncio.sleep(_RECORD_BACKOFF_S * 2 ** (attempt - 1))
            else:
                self._posted.discard(case_id)
                return

    async def _failed(self, job: _Job, exc: Exception, thread_ts: str | None) -> None:
        """End the case with the reason, or hand it back with backoff (at most N tries)."""
        case, intake = job.case, self.settings.intake
        attempt = case.attempts + 1
        outcome = terminal(exc)
        if outcome is None and attempt >= intake.max_attempts:
            outcome = Terminal(
                reason=f"gave up after {attempt} attempts: {describe(exc)}",
                tell_channel=True,
            )
        if outcome is None:
            delay = retry_delay(
                attempt, base_s=intake.retry_base_s, max_s=intake.retry_max_s
            )
            log.warning(
                "posting case %s failed (attempt %d of %d), retrying in %.0f s: %s",
                case.case_id,
                attempt,
                intake.max_attempts,
                delay.total_seconds(),
                describe(exc),
            )
            await self.intake.retry_later(
                case.case_id,
                self.owner,
                reason=describe(exc),
                due_at=self.clock() + delay,
            )
            return
        log.error("case %s ends: %s", case.case_id, outcome.reason)
        await self.intake.fail(case.case_id, self.owner, reason=outcome.reason)
        if outcome.tell_channel and isinstance(self.poster, CaseNotices):
            text = f"Case {case.case_id} ({case.instance_uuid}): {outcome.reason}."
            try:
                await self.poster.post_notice(job.channel, text, thread_ts=thread_ts)
            except Exception as notice_exc:
                log.warning(
                    "could not tell %s about case %s: %s",
                    job.channel,
                    case.case_id,
                    describe(notice_exc),
                )

    async def _refresh_incident(self, incident_id: str, *, force: bool) -> None:
        """Update the parent's count and table, at most once per update interval."""
        loop = asyncio.get_running_loop()
        async with self._update_lock:
            last = self._last_update.get(incident_id)
            interval = self.settings.slack.update_interval_s
            if not force and last is not None and loop.time() - last < interval:
                return
            self._last_update[incident_id] = loop.time()
            # the row and counts only: a storm's members are not read into memory
            view = await self.incidents.summary(incident_id)
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
