"""Diagnosis slots: how many diagnoses run at once, with people ahead of storms.

A storm queues hundreds of automatic diagnoses (its members); if they shared one plain
semaphore with slash commands, an operator's ``/migrate-diag vm`` would wait behind the
whole storm. So automatic runs may hold at most ``total - reserved`` slots (the rest are
kept for people), and whenever a slot frees, a waiting interactive diagnosis (slash
command, button, mention) takes it before any waiting automatic one. An interactive
diagnosis therefore starts at once while a reserved slot is free, and otherwise within
one running diagnosis' time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType


class DiagnosisSlots:
    """``async with slots:`` (or ``slots.interactive()``) for people, ``slots.background()``
    for automatic diagnoses."""

    def __init__(self, total: int, *, reserved: int = 1) -> None:
        if total < 1:
            raise ValueError("total must be at least 1")
        self.total = total
        # one slot alone cannot be reserved: automatic posts would never run
        self.reserved = max(0, min(reserved, total - 1))
        self.running = 0
        self.running_background = 0
        self._people: deque[asyncio.Future[None]] = deque()
        self._automatic: deque[asyncio.Future[None]] = deque()

    # ---- taking and giving back ---------------------------------------------------------

    def _person_may_start(self) -> bool:
        return self.running < self.total

    def _automatic_may_start(self) -> bool:
        return (
            self.running < self.total
            and self.running_background < self.total - self.reserved
            and not self._people  # a waiting person goes first
        )

    async def _take(self, *, background: bool) -> None:
        queue = self._automatic if background else self._people
        may = self._automatic_may_start if background else self._person_may_start
        if not queue and may():
            self._start(background=background)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter  # _wake started us (counted) before resolving the future
        except asyncio.CancelledError:
            if waiter in queue:
                queue.remove(waiter)
            elif not waiter.cancelled():
                self._give_back(background=background)  # started, then cancelled
            raise

    def _start(self, *, background: bool) -> None:
        self.running += 1
        self.running_background += background

    def _give_back(self, *, background: bool) -> None:
        self.running -= 1
        self.running_background -= background
        self._wake()

    def _wake(self) -> None:
        """Start whoever may start now: people first, then automatic runs in order."""
        for queue, background in ((self._people, False), (self._automatic, True)):
            may = self._automatic_may_start if background else self._person_may_start
            while queue and may():
                waiter = queue.popleft()
                if waiter.done():
                    continue  # cancelled while queued; its task is unwinding
                self._start(background=background)
                waiter.set_result(None)

    @asynccontextmanager
    async def _slot(self, *, background: bool) -> AsyncIterator[None]:
        await self._take(background=background)
        try:
            yield
        finally:
            self._give_back(background=background)

    # ---- the two kinds of diagnosis ---------------------------------------------------

    def interactive(self) -> AbstractAsyncContextManager[None]:
        """A diagnosis someone is waiting for in Slack."""
        return self._slot(background=False)

    def background(self) -> AbstractAsyncContextManager[None]:
        """An automatic diagnosis (a storm member, an intake case)."""
        return self._slot(background=True)

    @property
    def waiting(self) -> int:
        return len(self._people) + len(self._automatic)

    async def __aenter__(self) -> None:
        await self._take(background=False)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._give_back(background=False)
