"""Every message the bot writes to Slack: one ordered lane per thread, paced per channel.

The API (one ``SlackWriter`` per Web API client; ``SlackCasePoster.writer`` is the bot's):

- ``ts = await writer.post(channel, blocks, text, thread_ts=None)`` — one message now:
  top-level (a case's or an incident's parent), or, with ``thread_ts``, a reply queued
  behind everything already queued in that thread. Raises :class:`DeliveryFailed`.
- ``writer.reply(channel, thread_ts, blocks, text)`` — queue a thread reply and return at
  once; the future gives its ts (or the :class:`DeliveryFailed`); nobody has to await it.
- ``writer.submit(channel, thread_ts, write)`` — any other write (a file upload) in the
  thread's order; ``write`` is an ``async () -> T`` that performs the call.
- ``await writer.flush(channel, thread_ts)`` — until everything queued there is in Slack.
- ``await writer.update(channel, ts, blocks, text)`` — chat.update; False (logged once)
  when Slack would not take it.

Order inside a thread is the order of the calls (steps, then the card; evidence,
escalations and claims after). Every chat.postMessage holds its channel's pacer slot, so
posts stay under Slack's ~1 message/s per channel and nobody is told "ratelimited". The
client's retry handlers (``bot.app.build_client``) retry 429, 5xx and connection errors
with bounded backoff; what still fails becomes one ``DeliveryFailed`` and one log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.pacing import ChannelPacer

log = logging.getLogger(__name__)

T = TypeVar("T")
Blocks = list[dict[str, Any]] | None  # None: a plain-text message
# Slack's answers that no retry can change: the case ends with the reason
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "thread_not_found",
        "message_not_found",
        "cant_update_message",
        "restricted_action",
    }
)


class DeliveryFailed(Exception):
    """Slack did not take a write after the client's bounded retries."""

    def __init__(self, method: str, reason: str, *, permanent: bool) -> None:
        super().__init__(f"{method} failed: {reason}")
        self.method = method
        self.reason = reason  # Slack's error code, or "http 500", "unreachable: ..."
        self.permanent = permanent

    @classmethod
    def of(cls, method: str, exc: Exception) -> DeliveryFailed:
        if isinstance(exc, SlackApiError):
            error = exc.response.get("error") if exc.response is not None else None
            status = getattr(exc.response, "status_code", None)
            if error:
                return cls(method, str(error), permanent=error in PERMANENT)
            return cls(method, f"http {status}", permanent=False)
        return cls(method, f"unreachable: {exc}", permanent=False)


def _retrieve(future: asyncio.Future[Any]) -> None:
    # a reply nobody awaits must not warn "exception was never retrieved": it was logged
    if not future.cancelled():
        future.exception()


async def _nothing() -> None:
    return None


@dataclass(slots=True)
class _Lane:
    pending: deque[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = field(
        default_factory=deque
    )
    worker: asyncio.Task[None] | None = None


class SlackWriter:
    """Ordered, paced writes; one lane (queue + worker task) per (channel, thread)."""

    def __init__(self, client: AsyncWebClient, pacer: ChannelPacer) -> None:
        self.client = client
        self.pacer = pacer
        self._lanes: dict[tuple[str, str], _Lane] = {}

    # ---- the thread lanes ---------------------------------------------------------------

    def submit(
        self, channel: str, thread_ts: str, write: Callable[[], Awaitable[T]]
    ) -> asyncio.Future[T]:
        """Queue ``write`` behind everything queued in the thread; returns its future."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        key = (channel, thread_ts)
        lane = self._lanes.setdefault(key, _Lane())
        lane.pending.append((write, future))
        if lane.worker is None:
            lane.worker = asyncio.create_task(
                self._drain(key, lane), name=f"thread-{channel}-{thread_ts}"
            )
        return future

    async def _drain(self, key: tuple[str, str], lane: _Lane) -> None:
        try:
            while lane.pending:
                write, future = lane.pending.popleft()
                try:
                    result = await write()
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
        finally:
            lane.worker = None
            if self._lanes.get(key) is lane and not lane.pending:
                del self._lanes[key]

    def reply(
        self, channel: str, thread_ts: str, blocks: Blocks, text: str
    ) -> asyncio.Future[str]:
        """Queue a thread reply; returns at once."""
        return self.submit(
            channel,
            thread_ts,
            lambda: self._post_now(channel, blocks, text, thread_ts),
        )

    async def flush(self, channel: str, thread_ts: str) -> None:
        """Wait until every write queued in the thread so far has been tried."""
        if (channel, thread_ts) in self._lanes:
            await self.submit(channel, thread_ts, _nothing)  # lanes are FIFO

    def queued(self) -> int:
        """Writes waiting in every lane (the queue-depth metric)."""
        return sum(len(lane.pending) for lane in self._lanes.values())

    # ---- single writes -----------------------------------------------------------------

    async def post(
        self, channel: str, blocks: Blocks, text: str, *, thread_ts: str | None = None
    ) -> str:
        """Post one message and return its ts; a reply waits for its thread's lane."""
        if thread_ts is not None:
            return await self.reply(channel, thread_ts, blocks, text)
        return await self._post_now(channel, blocks, text, None)

    async def _post_now(
        self, channel: str, blocks: Blocks, text: str, thread_ts: str | None
    ) -> str:
        async with self.pacer.slot(channel):
            try:
                response = await self.client.chat_postMessage(
                    channel=channel,
                    blocks=blocks or None,
                    text=text,
                    thread_ts=thread_ts,
                )
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                failure = DeliveryFailed.of("chat.postMessage", exc)
                where = f"{channel} thread {thread_ts}" if thread_ts else channel
                log.warning(
                    "chat.postMessage to %s failed, gave up: %s", where, failure.reason
                )
                raise failure from exc
        return str(response["ts"])

    async def update(self, channel: str, ts: str, blocks: Blocks, text: str) -> bool:
        """chat.update; False (logged once) when Slack did not take it after retries."""
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, blocks=blocks, text=text
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            failure = DeliveryFailed.of("chat.update", exc)
            log.warning(
                "chat.update of %s in %s failed, gave up: %s",
                ts,
                channel,
                failure.reason,
            )
            return False
        return True
