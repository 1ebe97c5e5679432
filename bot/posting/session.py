"""One running diagnosis of a case in Slack: its parent, its thread, the engine's events.

The engine's progress callback is :meth:`CaseSession.on_event`: it only puts the event on
the session's queue and returns, so collection never waits on Slack (the per-channel
pacer, rate limits, a slow API). One drainer task per session applies the events in order:
it posts the parent on ``DiagnosisStarted`` and the details of each failed step, and
keeps the parent current through a :class:`LiveMessage` (coalesced chat.update).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block

from bot.cards import render_changes, render_root_cause, root_cause_text
from bot.posting.writer import DeliveryFailed, SlackWriter
from bot.rendering import (
    ParentState,
    fit,
    parent_text,
    render_parent,
    render_step,
    step_text,
)
from bot.store import CaseRecord, Store
from diagnostics.model import (
    Diagnosis,
    DiagnosisStarted,
    ProgressEvent,
    StepFinished,
    StepResult,
    StepStatus,
)

DETAILED = frozenset({StepStatus.FAILED, StepStatus.WARNING, StepStatus.ERROR})

Rendered = tuple[list[dict[str, Any]], str]  # (blocks, fallback text)


class LiveMessage:
    """One message kept in step with a changing state within chat.update's tier (Tier 3,
    ~50/min per workspace): changes are coalesced, at most one update per ``interval_s``
    per message, and the latest state always wins. Thread replies go through
    :class:`bot.posting.writer.SlackWriter` (ordered per thread, paced per channel).
    """

    def __init__(
        self,
        writer: SlackWriter,
        channel: str,
        ts: str,
        render: Callable[[], Rendered],
        interval_s: float,
    ) -> None:
        self.writer = writer
        self.channel = channel
        self.ts = ts
        self.render = render
        self.interval_s = interval_s
        self._dirty = False
        self._sleeping = False
        self._last_sent = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.delivered = False  # did Slack take the latest update

    def changed(self) -> None:
        """Note that the state changed; an update follows within ``interval_s``."""
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._pump(), name=f"live-{self.ts}")

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while self._dirty:
            wait = self._last_sent + self.interval_s - loop.time()
            if wait > 0:
                # pacing to the method's rate tier, not a race workaround
                self._sleeping = True
                try:
                    await asyncio.sleep(wait)
                finally:
                    self._sleeping = False
            self._dirty = False
            await self._send()

    async def _send(self) -> None:
        async with self._lock:
            blocks, text = self.render()
            # the client retried 429/5xx already; a failure is logged once by the writer
            self.delivered = await self.writer.update(
                self.channel, self.ts, blocks, text
            )
            self._last_sent = asyncio.get_running_loop().time()

    async def finish(self) -> None:
        """Send the final state now, skipping any throttle wait."""
        task = self._task
        if task is not None and not task.done():
            if self._sleeping:
                task.cancel()
            await asyncio.wait([task])
        self._dirty = False
        await self._send()


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackOutput:
    """Where a session posts; shared read-only by every session of one poster."""

    writer: SlackWriter
    store: Store
    update_interval_s: float
    runbook_url: str
    # the fix buttons the root-cause card carries (bot.fixes.offers); none by default
    card_fixes: Callable[[CaseRecord, Diagnosis], list[Block]] = lambda _c, _d: []


class CaseSession:
    """The mutable state of one diagnosis of one case; only its own methods change it."""

    def __init__(
        self,
        out: SlackOutput,
        case: CaseRecord,
        *,
        incident_ts: str | None,
        requested_by: str | None,
    ) -> None:
        self._out = out
        self._case = case
        self._incident_ts = (
            incident_ts  # set: the parent is itself a reply in this thread
        )
        self._state = ParentState(
            case_id=case.id,
            vm_name=case.vm_name,
            requested_by=requested_by,
            claimed_by=case.claimed_by,
            claimed_at=case.claimed_at,
        )
        self._live: LiveMessage | None = None
        self._thread: str | None = (
            None  # the ts replies go under, once the parent exists
        )
        self._replies: list[asyncio.Future[str]] = []
        self._posted_steps: set[int] = set()
        self._events: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
        self.drainer = asyncio.create_task(self._drain(), name=f"events-{case.id}")

    @property
    def has_parent(self) -> bool:
        """Something of this case is in Slack already (this run's or an earlier parent)."""
        return self._live is not None or self._case.parent_ts is not None

    async def on_event(self, event: ProgressEvent) -> None:
        """The engine's progress callback: queue the event and return at once."""
        self._events.put_nowait(event)

    async def settle(self) -> None:
        """Wait until every queued event is in Slack; re-raises what the drainer hit."""
        if not self.drainer.done():
            self._events.put_nowait(None)
        await self.drainer

    async def _drain(self) -> None:
        while (event := await self._events.get()) is not None:
            await self._apply(event)

    async def _apply(self, event: ProgressEvent) -> None:
        if isinstance(event, DiagnosisStarted):
            self._state = replace(
                self._state,
                vm_name=event.vm.name,
                migration=event.migration,
                steps=event.steps,
                results={},
            )
            await self._ensure_parent()
        elif isinstance(event, StepFinished):
            self._step_done(event.step)
        if self._live is not None:
            self._live.changed()

    def _rendered(self) -> Rendered:
        return fit(render_parent(self._state)), parent_text(self._state)

    async def _ensure_parent(self) -> None:
        if self._live is not None:
            return
        out, case = self._out, self._case
        parent_ts = case.parent_ts
        thread_root = case.thread_ts or self._incident_ts
        if parent_ts is None:
            blocks, text = self._rendered()
            parent_ts = await out.writer.post(
                case.channel, blocks, text, thread_ts=thread_root
            )
            self._case = await out.store.set_parent(
                case.id,
                channel=case.channel,
                parent_ts=parent_ts,
                thread_ts=thread_root,
            )
        self._live = LiveMessage(
            out.writer, case.channel, parent_ts, self._rendered, out.update_interval_s
        )
        self._thread = thread_root or parent_ts
        self._live.changed()

    def _reply(self, blocks: list[dict[str, object]] | None, text: str) -> None:
        assert self._thread is not None
        self._replies.append(
            self._out.writer.reply(self._case.channel, self._thread, blocks, text)
        )

    def _step_done(self, step: StepResult) -> None:
        self._state = replace(
            self._state, results={**self._state.results, step.number: step}
        )
        if (
            step.status in DETAILED
            and step.number not in self._posted_steps
            and self._thread
        ):
            self._posted_steps.add(step.number)
            self._reply(fit(render_step(step)), step_text(step))

    def claimed(self, by: str | None, at: datetime | None) -> None:
        """Show a claim made while the diagnosis runs."""
        self._state = replace(self._state, claimed_by=by, claimed_at=at)
        if self._live is not None:
            self._live.changed()

    async def failed(self, reason: str) -> None:
        """The diagnosis could not finish: say why on the parent."""
        self._state = replace(self._state, error=reason, diagnosis=None)
        await self._ensure_parent()

    async def finished(
        self, diagnosis: Diagnosis, run_id: str, previous: Diagnosis | None
    ) -> None:
        """The parent ends on the verdict; the thread gets the card (and what changed)."""
        self._state = replace(
            self._state,
            diagnosis=diagnosis,
            run_id=run_id,
            migration=diagnosis.migration,
            error=None,
        )
        await self._ensure_parent()
        for (
            step
        ) in diagnosis.steps:  # the authoritative result, whatever the events said
            self._step_done(step)
        card = render_root_cause(diagnosis, run_id, self._out.runbook_url)
        self._reply(
            fit([*card, *self._out.card_fixes(self._case, diagnosis)]),
            root_cause_text(diagnosis),
        )
        if previous is not None:
            self._reply(fit(render_changes(previous, diagnosis)), "Re-run finished")

    async def close(self) -> None:
        """Stop the drainer, post every queued reply, then the parent's final state.

        A reply Slack would not take (after the client's retries) is named on the parent,
        so the parent never claims a complete thread it does not have.
        """
        if not self.drainer.done():
            self._events.put_nowait(None)
        await asyncio.gather(self.drainer, return_exceptions=True)
        if self._thread is not None:
            await self._out.writer.flush(self._case.channel, self._thread)
        lost = [
            f.exception()
            for f in self._replies
            if f.done() and not f.cancelled() and f.exception() is not None
        ]
        if lost:
            first = lost[0]
            reason = first.reason if isinstance(first, DeliveryFailed) else str(first)
            self._state = replace(
                self._state,
                notice=f"{len(lost)} thread repl{'y' if len(lost) == 1 else 'ies'}"
                f" could not be posted ({reason})",
            )
        if self._live is not None:
            await self._live.finish()
            if not self._live.delivered and self._thread is not None:
                # the parent is stuck on an older state: say so where people look next
                self._reply(
                    None,
                    "⚠️ Slack would not update this case's parent message; the thread"
                    " above is the current state. Re-run to refresh it.",
                )
                await self._out.writer.flush(self._case.channel, self._thread)
