"""Live Slack output of a running diagnosis.

``LiveMessage`` keeps one message in step with a changing state without exceeding
chat.update's tier (Tier 3, ~50/min per workspace): changes are coalesced, at most one
update per ``interval_s`` per message, and the latest state always wins.
``ThreadWriter`` posts replies strictly in order, paced per channel, off the engine's path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.pacing import ChannelPacer

log = logging.getLogger(__name__)

Rendered = tuple[list[dict[str, Any]], str]  # (blocks, fallback text)


class LiveMessage:
    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        ts: str,
        render: Callable[[], Rendered],
        interval_s: float,
    ) -> None:
        self.client = client
        self.channel = channel
        self.ts = ts
        self.render = render
        self.interval_s = interval_s
        self._dirty = False
        self._sleeping = False
        self._last_sent = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

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
            try:
                await self.client.chat_update(
                    channel=self.channel, ts=self.ts, blocks=blocks, text=text
                )
            except SlackApiError as exc:
                log.warning(
                    "chat.update %s failed: %s", self.ts, exc.response.get("error")
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


class ThreadWriter:
    """Posts replies into one thread in the order they were queued."""

    def __init__(
        self, client: AsyncWebClient, pacer: ChannelPacer, channel: str, thread_ts: str
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.channel = channel
        self.thread_ts = thread_ts
        self._queue: asyncio.Queue[Rendered | None] = asyncio.Queue()
        self._worker = asyncio.create_task(self._run(), name=f"thread-{thread_ts}")

    def post(self, blocks: list[dict[str, Any]], text: str) -> None:
        self._queue.put_nowait((blocks, text))

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            blocks, text = item
            await self.pacer.wait(self.channel)
            try:
                await self.client.chat_postMessage(
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    blocks=blocks,
                    text=text,
                )
            except SlackApiError as exc:
                log.warning(
                    "thread reply in %s failed: %s",
                    self.thread_ts,
                    exc.response.get("error"),
                )

    async def close(self) -> None:
        """Wait until every queued reply has been posted."""
        self._queue.put_nowait(None)
        await self._worker
