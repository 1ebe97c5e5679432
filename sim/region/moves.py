"""Runs a move requested over the API: Nova's intermediate statuses, then the outcome.

The POST handler gets its 202 at once; an asyncio task walks the migration record through
the statuses Nova's conductor and computes set, then writes the final state, log lines,
leftovers and notifications. Tests ``await runner.wait_idle()`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sim.region.notify import AmqpPublisher
from sim.region.outcome import PlannedOutcome, commit_outcome, plan_outcome
from sim.region.state import NotificationRecord, RegionState
from sim.scenario.model import Outcome

log = logging.getLogger(__name__)

# statuses before the final one, per kind, when the move got past the conductor
_STEPS = {
    "live-migration": ["accepted", "queued", "preparing", "running"],
    "migration": ["pre-migrating", "migrating", "post-migrating"],
    "resize": ["pre-migrating", "migrating", "post-migrating"],
    "evacuation": ["accepted", "pre-migrating", "rebuilding"],
}
_FIRST = {"live-migration": "accepted", "migration": "pre-migrating",
          "resize": "pre-migrating", "evacuation": "accepted"}  # fmt: skip
# what the server looks like while the move runs
_BUSY = {
    "live-migration": ("MIGRATING", "migrating"),
    "migration": ("RESIZE", "resize_prep"),
    "resize": ("RESIZE", "resize_prep"),
    "evacuation": ("REBUILD", "rebuilding"),
}


def status_steps(kind: str, final: str) -> list[str]:
    """Statuses a migration record passes through before ``final``."""
    if final == "error":
        # the conductor failed it during pre-checks or scheduling
        return [_FIRST[kind]]
    steps = _STEPS[kind]
    if final == "confirmed":
        return [*steps, "finished"]
    return steps


class MoveRunner:
    """Owns the asyncio tasks of moves in flight; optionally publishes notifications."""

    def __init__(self, state: RegionState, step_delay_s: float = 0.0) -> None:
        self.state = state
        self.step_delay_s = step_delay_s
        self.publisher: AmqpPublisher | None = None  # when the region has AMQP
        self._tasks: set[asyncio.Task[None]] = set()
        # migration id -> every status it was given, in order (what a poller could see)
        self.status_history: dict[int, list[str]] = {}

    def start(
        self,
        server_id: str,
        outcome: Outcome,
        *,
        request_id: str,
        dest: str | None,
        rename_events: dict[str, str] | None = None,
    ) -> PlannedOutcome:
        """Record the move as accepted now and schedule the rest; returns the plan."""
        now = datetime.now(UTC)
        plan = plan_outcome(
            self.state,
            server_id,
            outcome,
            now,
            at=now,
            request_id=request_id,
            dest=dest,
        )
        for event in plan.action.events:
            event.event = (rename_events or {}).get(event.event, event.event)
        final_status = plan.migration.status
        final_events = plan.action.events
        final_updated = plan.migration.updated_at
        steps = status_steps(outcome.kind, final_status)
        plan.migration.status = steps[0]
        self.status_history[plan.migration.id] = [steps[0]]
        plan.migration.updated_at = plan.migration.created_at
        plan.action.events = []
        self.state.migrations.append(plan.migration)
        self.state.actions.append(plan.action)
        server = self.state.servers[server_id]
        # the server shows its pre-move status again at the end unless the outcome says otherwise
        plan.server_updates.setdefault("status", server["status"])
        status, task_state = _BUSY[outcome.kind]
        server.update({"status": status, "task_state": task_state})
        task = asyncio.get_running_loop().create_task(
            self._advance(plan, steps[1:], final_status, final_events, final_updated)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return plan

    async def _advance(
        self,
        plan: PlannedOutcome,
        steps: list[str],
        final_status: str,
        final_events: list[Any],
        final_updated: datetime | None,
    ) -> None:
        for status in steps:
            await asyncio.sleep(self.step_delay_s)
            plan.migration.status = status
            plan.migration.updated_at = datetime.now(UTC)
            self.status_history[plan.migration.id].append(status)
        await asyncio.sleep(self.step_delay_s)
        plan.action.events = final_events
        plan.migration.status = final_status
        plan.migration.updated_at = final_updated
        self.status_history[plan.migration.id].append(final_status)
        commit_outcome(self.state, plan)
        log.info(
            "migration %s of %s finished: %s",
            plan.migration.id, plan.server_id, final_status,
        )  # fmt: skip
        await self._publish(plan.notifications)

    async def _publish(self, notes: list[NotificationRecord]) -> None:
        if self.publisher is None:
            return
        for priority, _event_type, envelope in notes:
            try:
                await self.publisher.publish(priority, envelope)
            except Exception:  # a broken broker must not break the simulated API
                log.exception("could not publish notification")

    def later(self, act: Callable[[datetime], list[NotificationRecord]]) -> None:
        """Run a compute's part of an API call after the 202 (abort, force complete):
        ``act(now)`` changes the state and returns the notifications to publish."""

        async def run() -> None:
            await asyncio.sleep(self.step_delay_s)
            await self._publish(act(datetime.now(UTC)))

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait until every move started so far has reached its final state."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
