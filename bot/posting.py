"""Run a diagnosis for a case and show it in Slack: one live parent, details in its thread.

Used by the slash command, the Re-run button and automatic posts (intake). A case whose
parent already exists (a re-run) is updated in place and gets a "what changed" reply.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.cards import render_changes, render_root_cause, root_cause_text
from bot.progress import LiveMessage, Rendered, ThreadWriter
from bot.rendering import (
    ParentState,
    fit,
    parent_text,
    render_parent,
    render_step,
    step_text,
)
from bot.services import Services
from bot.store import CaseRecord
from diagnostics.model import (
    DiagnosisStarted,
    DiagnosticsError,
    MigrationRef,
    ProgressEvent,
    StepFinished,
    StepResult,
    StepStatus,
)

log = logging.getLogger(__name__)

DETAILED = frozenset({StepStatus.FAILED, StepStatus.WARNING, StepStatus.ERROR})


class CaseAlreadyRunning(Exception):
    """A diagnosis of this case is in progress; a second one would fight over the parent."""


class _Session:
    """Mutable state of one running diagnosis of a case."""

    def __init__(
        self, poster: CasePoster, case: CaseRecord, thread_ts: str | None
    ) -> None:
        self.poster = poster
        self.case = case
        self.incident_ts = thread_ts  # set: the parent is itself a reply in this thread
        self.state = ParentState(
            case_id=case.id,
            vm_name=case.vm_name,
            claimed_by=case.claimed_by,
            claimed_at=case.claimed_at,
        )
        self.live: LiveMessage | None = None
        self.thread: ThreadWriter | None = None
        self.posted_steps: set[int] = set()

    def rendered(self) -> Rendered:
        return fit(render_parent(self.state)), parent_text(self.state)

    async def ensure_parent(self) -> None:
        if self.live is not None:
            return
        p = self.poster
        case = self.case
        parent_ts = case.parent_ts
        thread_root = case.thread_ts or self.incident_ts
        if parent_ts is None:
            blocks, text = self.rendered()
            await p.services.pacer.wait(case.channel)
            resp = await p.client.chat_postMessage(
                channel=case.channel, blocks=blocks, text=text, thread_ts=thread_root
            )
            parent_ts = str(resp["ts"])
            self.case = await p.services.store.set_parent(
                case.id,
                channel=case.channel,
                parent_ts=parent_ts,
                thread_ts=thread_root,
            )
        self.live = LiveMessage(
            p.client,
            case.channel,
            parent_ts,
            self.rendered,
            p.services.settings.slack.update_interval_s,
        )
        self.thread = ThreadWriter(
            p.client, p.services.pacer, case.channel, thread_root or parent_ts
        )
        self.live.changed()

    def step_done(self, step: StepResult) -> None:
        self.state = replace(
            self.state, results={**self.state.results, step.number: step}
        )
        if (
            step.status in DETAILED
            and step.number not in self.posted_steps
            and self.thread
        ):
            self.posted_steps.add(step.number)
            self.thread.post(fit(render_step(step)), step_text(step))

    async def on_event(self, event: ProgressEvent) -> None:
        if isinstance(event, DiagnosisStarted):
            self.state = replace(
                self.state,
                vm_name=event.vm.name,
                migration=event.migration,
                steps=event.steps,
                results={},
            )
            await self.ensure_parent()
        elif isinstance(event, StepFinished):
            self.step_done(event.step)
        if self.live is not None:
            self.live.changed()

    async def close(self) -> None:
        if self.live is not None:
            await self.live.finish()
        if self.thread is not None:
            await self.thread.close()


class CasePoster:
    """Posts and updates cases. ``post_case``'s signature is a contract with intake."""

    def __init__(self, client: AsyncWebClient, services: Services) -> None:
        self.client = client
        self.services = services
        self._running: dict[str, _Session] = {}

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

        With ``thread_ts`` the parent is posted as a reply in that (incident) thread and
        the details follow it there. Raises ``DiagnosticsError`` (``VmNotFound``,
        ``AmbiguousVm``, ...) only when it failed before anything was posted; later
        failures are shown on the parent and in the thread.
        """
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
                kind=ref.kind.value if ref.kind else None,
            )
        if case_id in self._running:
            raise CaseAlreadyRunning(case_id)
        previous = await store.latest_runs(case_id, limit=1)
        session = _Session(self, case, thread_ts)
        session.state = replace(session.state, requested_by=requested_by)
        self._running[case_id] = session
        try:
            async with self.services.diagnosis_slots:
                await self._diagnose(
                    session, ref, requested_by, previous[0] if previous else None
                )
        finally:
            del self._running[case_id]
            await session.close()

    async def _diagnose(
        self,
        session: _Session,
        ref: MigrationRef,
        requested_by: str | None,
        previous: Any,
    ) -> None:
        try:
            diagnosis = await self.services.diagnoser.diagnose(
                ref, on_event=session.on_event
            )
        except Exception as exc:
            if session.live is None and session.case.parent_ts is None:
                raise
            if isinstance(exc, DiagnosticsError):
                reason = str(exc)
            else:
                log.exception("diagnosis of case %s failed", session.case.id)
                reason = f"internal error ({type(exc).__name__}); see the bot's log"
            session.state = replace(session.state, error=reason, diagnosis=None)
            await session.ensure_parent()
            return
        run = await self.services.store.record_run(
            session.case.id, diagnosis, requested_by
        )
        session.state = replace(
            session.state,
            diagnosis=diagnosis,
            run_id=run.id,
            migration=diagnosis.migration,
            error=None,
        )
        await session.ensure_parent()
        for (
            step
        ) in diagnosis.steps:  # the authoritative result, whatever the events said
            session.step_done(step)
        assert session.thread is not None
        runbook = self.services.settings.deployment.runbook_url
        session.thread.post(
            fit(render_root_cause(diagnosis, run.id, runbook)),
            root_cause_text(diagnosis),
        )
        if previous is not None:
            session.thread.post(
                fit(render_changes(previous.diagnosis, diagnosis)), "Re-run finished"
            )

    async def refresh_parent(self, case_id: str) -> None:
        """Re-render a case's parent from the store (after a claim, say)."""
        store = self.services.store
        case = await store.get_case(case_id)
        if case is None or case.parent_ts is None:
            return
        running = self._running.get(case_id)
        if running is not None:
            running.state = replace(
                running.state, claimed_by=case.claimed_by, claimed_at=case.claimed_at
            )
            if running.live is not None:
                running.live.changed()
            return
        runs = await store.latest_runs(case_id, limit=1)
        state = ParentState(
            case_id=case.id,
            vm_name=case.vm_name,
            diagnosis=runs[0].diagnosis if runs else None,
            run_id=runs[0].id if runs else None,
            claimed_by=case.claimed_by,
            claimed_at=case.claimed_at,
            error=None if runs else "no completed run",
        )
        await self.client.chat_update(
            channel=case.channel,
            ts=case.parent_ts,
            blocks=fit(render_parent(state)),
            text=parent_text(state),
        )
