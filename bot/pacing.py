"""Per-channel pacing of chat.postMessage (Slack allows about 1 message/s per channel).

This avoids 429s rather than recovering from them; the SDK's rate-limit retry handler
stays as the backstop when other apps share the budget.

``slot(channel)`` holds the channel for the whole call and restarts the refill clock when
the call returns: Slack counts a message when it *arrives*, and a request can arrive later
than the one sent after it would (jitter), so spacing measured from the previous reply's
return is the only spacing Slack is sure to see. Posts in one channel go out one at a time,
in the order they asked (asyncio locks are FIFO).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class ChannelPacer:
    """A token bucket per channel: ``rate_per_s`` refill, ``burst`` capacity."""

    def __init__(self, rate_per_s: float = 1.0, burst: int = 1) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, channel: str) -> _Bucket:
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(
                tokens=float(self.burst), updated=asyncio.get_running_loop().time()
            )
        return bucket

    async def _take(self, bucket: _Bucket) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        bucket.tokens = min(
            self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s
        )
        bucket.updated = now
        if bucket.tokens < 1:
            delay = (1 - bucket.tokens) / self.rate_per_s
            await asyncio.sleep(delay)  # pacing to Slack's limit, not a race workaround
            bucket.tokens = 1.0
            bucket.updated = loop.time()
        bucket.tokens -= 1

    @asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        """Post one message to ``channel`` inside this block (one at a time per channel)."""
        bucket = self._bucket(channel)
        bucket.waiting += 1
        try:
            async with bucket.lock:
                await self._take(bucket)
                try:
                    yield
                finally:
                    bucket.updated = asyncio.get_running_loop().time()
        finally:
            bucket.waiting -= 1

    async def wait(self, channel: str) -> None:
        """Return when one more message may be posted to ``channel`` (prefer ``slot``)."""
        bucket = self._bucket(channel)
        async with bucket.lock:
            await self._take(bucket)

    def queued(self) -> int:
        """Posts waiting for (or holding) a channel right now (the queue-depth metric)."""
        return sum(b.waiting for b in self._buckets.values())
