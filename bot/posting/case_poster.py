"""Run a diagnosis for a case and show it in Slack: one live parent, details in its thread.

Used by the slash command, the Re-run button and automatic posts (the case runner). A
case whose parent already exists (a re-run) is updated in place and gets a "what changed"
reply. Each run is a :class:`bot.posting.session.CaseSession`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial

from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.cards import render_root_cause, root_cause_text
from bot.fixes.offers import fix_buttons
from bot.logs import case_context
from bot.posting.incidents import render_storm_parent
from bot.posting.session import DETAILED, CaseSession, SlackOutput
from bot.posting.storm import StormBoard
from bot.posting.writer import DeliveryFailed, SlackWriter
from bot.rendering import (
    ParentState,
    fit,
    parent_text,
    render_parent,
    render_step,
    step_text,
)
from bot.services import Services
from bot.store import CaseRecord, CaseState, RunRecord
from bot.store.resolution_repo import Resolution, resolution_of
from diagnostics.model import Diagnosis, DiagnosticsError, MigrationRef
from diagnostics.times import utcnow

log = logging.getLogger(__name__)


@contextmanager
def _in_flight() -> Iterator[None]:
    metrics.IN_FLIGHT.inc()
    try:
        yield
    finally:
        metrics.IN_FLIGHT.dec()


class CaseAlreadyRunning(Exception):
    """A diagnosis of this case is in progress; a second one would fight over the parent."""


class SlackCasePoster:
    """Posts and updates cases. ``post_case`` satisfies ``bot.cases.manager.CasePoster``."""

    def __init__(
        self, client: AsyncWebClient, services: Services, *, owner: str | None = None
    ) -> None:
        self.client = client
        self.services = services
        self.owner = owner or f"bot-{uuid.uuid4().hex[:12]}"  # this process's leases
        # every write of the bot (cases, buttons, incidents) goes through this one writer
        self.writer = SlackWriter(client, services.pacer)
        self._out = SlackOutput(
            writer=self.writer,
            store=services.store,
            update_interval_s=services.settings.slack.update_interval_s,
            runbook_url=services.settings.deployment.runbook_url,
            card_fixes=partial(fix_buttons, services.settings),
        )
        self._running: dict[str, CaseSession] = {}
        # storm members: grouped by cause, one reply per group (bot.posting.storm)
        self.storms = StormBoard(
            self.writer,
            services.store,
            render_storm_parent,
            runbook_url=services.settings.deployment.runbook_url,
            owner=self.owner,
        )

    def is_running(self, case_id: str) -> bool:
        return case_id in self._running

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
        *,
        requested_by: str | None = None,
        source: str = "auto",
    ) -> None:
        """Diagnose ``ref`` for the case (created if new) and show it in ``channel``.

        With ``thread_ts`` (a storm incident's parent) the case is a storm member: it is
        diagnosed and stored, and counted in its cause's group reply in that thread
        (``show_case`` posts it on its own on demand). Raises ``DiagnosticsError``
        (``VmNotFound``, ``AmbiguousVm``, ...) only when it failed before anything was
        posted; later failures are shown on the parent and in the thread.
        """
        with case_context(case_id):  # every log line of the case's tasks names it
            if thread_ts is not None and source == "auto":
                await self._storm_member(case_id, ref, channel, thread_ts)
                return
            await self._post_case(
                case_id, ref, channel, thread_ts, requested_by, source
            )

    async def _post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None,
        requested_by: str | None,
        source: str,
    ) -> None:
        store = self.services.store
        case = await store.get_case(case_id)
        if case is None:
            case = await store.create_case(
                case_id=case_id,
                vm_name=ref.server,
                channel=channel,
                source=source,
                migration_id=ref.migration_id,
                target_host=ref.target_host,
                kind=ref.kind,
            )
        if case_id in self._running:
            raise CaseAlreadyRunning(case_id)
        previous = await store.latest_runs(case_id, limit=1)
        # the lease: if this process dies, another (or this one restarted) takes it over
        await store.start_diagnosing(case_id, owner=self.owner, until=self._lease_end())
        session = CaseSession(
            self._out, case, incident_ts=thread_ts, requested_by=requested_by
        )
        self._running[case_id] = session
        heartbeat = asyncio.create_task(self._renew(case_id), name=f"lease-{case_id}")
        outcome: tuple[CaseState, str | None] | None = None  # None: leave it leased
        slots = self.services.diagnosis_slots
        # an automatic post nobody asked for waits behind anyone who did (bot.slots)
        slot = (
            slots.interactive()
            if requested_by or source != "auto"
            else slots.background()
        )
        try:
            async with slot:
                with _in_flight():
                    outcome = await self._diagnose(
                        session,
                        case_id,
                        ref,
                        requested_by,
                        previous[0].diagnosis if previous else None,
                    )
        except DeliveryFailed as exc:
            outcome = (CaseState.UNDELIVERABLE, exc.reason)
            raise
        except DiagnosticsError as exc:
            outcome = (CaseState.FAILED, str(exc))
            raise
        finally:
            heartbeat.cancel()
            del self._running[case_id]
            await session.close()
            if outcome is not None:
                await store.end_case(case_id, *outcome)

    def _lease_end(self) -> datetime:
        return utcnow() + timedelta(seconds=self.services.settings.slack.case_lease_s)

    async def _renew(self, case_id: str) -> None:
        every = self.services.settings.slack.case_lease_s / 3
        while True:
            await asyncio.sleep(every)  # the heartbeat's period, not a race workaround
            try:
                await self.services.store.renew_diagnosing(
                    case_id, owner=self.owner, until=self._lease_end()
                )
            except Exception:
                log.exception("renewing the lease of case %s failed", case_id)

    async def recover(self) -> int:
        """Finish every case a dead process left diagnosing: re-run it in its thread.

        When the re-run cannot start (the VM is gone, Slack refuses), the parent is
        repaired to say the case was interrupted, with its buttons (Re-run).
        """
        store = self.services.store
        # an automatic case's first run belongs to the intake's own lease (CaseManager
        # takes those over); slash commands and re-runs have no other owner
        taken = await store.take_stale(
            owner=self.owner, now=utcnow(), until=self._lease_end(), sources=("slash",)
        )
        for case in taken:
            log.info(
                "case %s was left diagnosing by a dead process; re-running", case.id
            )
            self.services.tasks.spawn(self._resume(case), name=f"resume-{case.id}")
        return len(taken)

    async def _resume(self, case: CaseRecord) -> None:
        ref = MigrationRef(
            server=case.vm_id or case.vm_name,
            migration_id=case.migration_id,
            target_host=case.target_host,
            kind=case.kind,
        )
        try:
            await self.post_case(
                case.id, ref, case.channel, case.thread_ts, source=case.source
            )
        except CaseAlreadyRunning:
            return
        except (DiagnosticsError, DeliveryFailed) as exc:
            await self._interrupted(case.id, str(exc))

    async def _interrupted(self, case_id: str, reason: str) -> None:
        store = self.services.store
        await store.end_case(case_id, CaseState.INTERRUPTED, reason)
        case = await store.get_case(case_id)
        if case is None or case.parent_ts is None:
            return
        runs = await store.latest_runs(case_id, limit=1)
        state = stored_state(
            case,
            runs[0] if runs else None,
            error=f"interrupted by a restart, and the re-run could not start: {reason}."
            " Use Re-run to try again",
        )
        await self.writer.update(
            case.channel, case.parent_ts, fit(render_parent(state)), parent_text(state)
        )

    async def watch_stale(self) -> None:
        """Recover at once, then every lease period (a replica that died meanwhile):
        interrupted cases, and storm boards whose refresher died with its replica."""
        while True:
            try:
                await self.recover()
            except Exception:
                log.exception("recovering interrupted cases failed; trying again")
            try:
                await self.storms.resume()
            except Exception:
                log.exception("resuming storm boards failed; trying again")
            await asyncio.sleep(self.services.settings.slack.case_lease_s)

    async def _storm_member(
        self, case_id: str, ref: MigrationRef, channel: str, incident_ts: str
    ) -> None:
        """Diagnose quietly, store the run, count the VM in its group's reply."""
        store = self.services.store
        case = await store.get_case(case_id)
        if case is None:
            case = await store.create_case(
                case_id=case_id,
                vm_name=ref.server,
                channel=channel,
                source="auto",
                migration_id=ref.migration_id,
                target_host=ref.target_host,
                kind=ref.kind,
            )
        try:
            async with self.services.diagnosis_slots.background():
                with _in_flight():
                    diagnosis = await self.services.diagnoser.diagnose(ref)
        except DiagnosticsError as exc:
            # nothing to retry: the VM is gone or ambiguous; the group says why
            await store.set_thread(
                case_id, channel=channel, thread_ts=incident_ts, vm_name=case.vm_name
            )
            await store.end_case(case_id, CaseState.FAILED, str(exc))
            await self.storms.record(
                channel,
                incident_ts,
                case_id=case_id,
                vm=case.vm_name,
                diagnosis=None,
                run_id=None,
                reason=str(exc)[:120],
            )
            return
        metrics.observe_diagnosis(diagnosis)
        run = await store.record_run(case_id, diagnosis, None)
        await store.set_thread(
            case_id, channel=channel, thread_ts=incident_ts, vm_name=diagnosis.vm.name
        )
        await store.end_case(case_id, CaseState.DIAGNOSED)
        await self.storms.record(
            channel,
            incident_ts,
            case_id=case_id,
            vm=diagnosis.vm.name,
            diagnosis=diagnosis,
            run_id=run.id,
        )

    async def show_case(self, case_id: str) -> str | None:
        """A storm member's own diagnosis in its thread; the reason when it cannot be."""
        store = self.services.store
        case = await store.get_case(case_id)
        if case is None or case.thread_ts is None:
            return "That VM is not part of a storm thread."
        if case.parent_ts is not None:
            return f"{case.vm_name} is already shown in this thread."
        runs = await store.latest_runs(case_id, limit=1)
        if not runs:
            return f"{case.vm_name} was not diagnosed (see its group's reply for why)."
        run = runs[0]
        state = stored_state(case, run)
        ts = await self.writer.post(
            case.channel,
            fit(render_parent(state)),
            parent_text(state),
            thread_ts=case.thread_ts,
        )
        await store.set_parent(
            case_id, channel=case.channel, parent_ts=ts, thread_ts=case.thread_ts
        )
        d = run.diagnosis
        for step in d.steps:
            if step.status in DETAILED:
                self.writer.reply(
                    case.channel,
                    case.thread_ts,
                    fit(render_step(step)),
                    step_text(step),
                )
        self.writer.reply(
            case.channel,
            case.thread_ts,
            fit(
                render_root_cause(
                    d, run.id, self.services.settings.deployment.runbook_url
                )
            ),
            root_cause_text(d),
        )
        return None

    async def _diagnose(
        self,
        session: CaseSession,
        case_id: str,
        ref: MigrationRef,
        requested_by: str | None,
        previous: Diagnosis | None,
    ) -> tuple[CaseState, str | None]:
        running = asyncio.ensure_future(
            self.services.diagnoser.diagnose(ref, on_event=session.on_event)
        )
        try:
            await asyncio.wait(
                {running, session.drainer}, return_when=asyncio.FIRST_COMPLETED
            )
            if not running.done():
                # the drainer stopped early: Slack refused the parent. Stop collecting
                # (no point, nowhere to show it) and let settle() raise why.
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
                await session.settle()
            diagnosis = await running
        except Exception as exc:
            await session.settle()
            if not session.has_parent:
                raise
            if isinstance(exc, DiagnosticsError):
                reason = str(exc)
            else:
                log.exception("diagnosis of case %s failed", case_id)
                reason = f"internal error ({type(exc).__name__}); see the bot's log"
            await session.failed(reason)
            return CaseState.FAILED, reason
        finally:
            if not running.done():
                running.cancel()
        await session.settle()
        metrics.observe_diagnosis(diagnosis)
        run = await self.services.store.record_run(case_id, diagnosis, requested_by)
        await session.finished(diagnosis, run.id, previous)
        return CaseState.DIAGNOSED, None

    async def post_notice(
        self, channel: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        """One plain line (a case that ended without a diagnosis, with the reason).

        Satisfies ``bot.cases.manager.CaseNotices``; raises ``DeliveryFailed``.
        """
        await self.writer.post(channel, None, text, thread_ts=thread_ts)

    async def refresh_parent(self, case_id: str) -> None:
        """Re-render a case's parent from the store (after a claim, say)."""
        store = self.services.store
        case = await store.get_case(case_id)
        if case is None or case.parent_ts is None:
            return
        running = self._running.get(case_id)
        if running is not None:
            running.claimed(case.claimed_by, case.claimed_at)
            return
        runs = await store.latest_runs(case_id, limit=1)
        state = stored_state(
            case,
            runs[0] if runs else None,
            resolution=await resolution_of(store, case_id),
        )
        await self.writer.update(
            case.channel, case.parent_ts, fit(render_parent(state)), parent_text(state)
        )


def stored_state(
    case: CaseRecord,
    run: RunRecord | None,
    *,
    error: str | None = None,
    resolution: Resolution | None = None,
) -> ParentState:
    """The parent as the store knows it: the run's whole checklist, verdict and claim."""
    d = run.diagnosis if run else None
    return ParentState(
        case_id=case.id,
        vm_name=case.vm_name,
        migration=d.migration if d else None,
        steps=tuple((step.number, step.title) for step in d.steps) if d else (),
        results={step.number: step for step in d.steps} if d else {},
        diagnosis=d,
        run_id=run.id if run else None,
        claimed_by=case.claimed_by,
        claimed_at=case.claimed_at,
        error=error if error is not None else (None if run else "no completed run"),
        resolution=resolution,
    )
