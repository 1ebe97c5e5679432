"""What every listener needs, passed explicitly (STYLE §5): settings, engine, store, pager, pacer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.authz import Authorizer
from bot.escalation import Pager
from bot.pacing import ChannelPacer
from bot.settings import BotSettings
from bot.slots import DiagnosisSlots
from bot.store import Store
from diagnostics.model import Diagnosis, MigrationRef, ProgressEvent

if TYPE_CHECKING:  # the SDK is imported by the engine, not by the bot's wiring
    from diagnostics.evidence.openstack_api import OpenStackApi

log = logging.getLogger(__name__)

OnEvent = Callable[[ProgressEvent], Awaitable[None]]


class Diagnoser(Protocol):
    """The engine's seam: ``diagnostics.engine.Engine`` satisfies it; tests pass fakes."""

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis: ...


class BackgroundTasks:
    """Keeps references to fire-and-forget tasks (asyncio only holds weak ones) and logs failures."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "background task %s failed", task.get_name(), exc_info=task.exception()
            )

    async def drain(self) -> None:
        """Wait for every running task (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    settings: BotSettings
    diagnoser: Diagnoser
    store: Store
    pager: Pager
    pacer: ChannelPacer
    authz: Authorizer
    diagnosis_slots: DiagnosisSlots  # people ahead of storms (bot.slots)
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)
    # moves the bot follows (bot.actions.watch): cancelled, not awaited, at shutdown; the
    # poller/notifications see the move end instead
    watches: BackgroundTasks = field(default_factory=BackgroundTasks)
    # the engine's OpenStack connection (serve): the watch reads Nova through it, one
    # token per process; None (tests, demos): the watch opens its own
    openstack: OpenStackApi | None = None
