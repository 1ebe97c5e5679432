"""Live Slack output of a running diagnosis.

``LiveMessage`` keeps one message in step with a changing state without exceeding
chat.update's tier (Tier 3, ~50/min per workspace): changes are coalesced, at most one
update per ``interval_s`` per message, and the latest state always wins. Thread replies
go through :class:`bot.posting.writer.SlackWriter` (ordered per thread, paced per channel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.posting.writer import SlackWriter

Rendered = tuple[list[dict[str, Any]], str]  # (blocks, fallback text)


class LiveMessage:
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
