"""Per-channel pacing of chat.postMessage (Slack allows about 1 message/s per channel).

This avoids 429s rather than recovering from them; the SDK's rate-limit retry handler
stays as the backstop when other apps share the budget.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChannelPacer:
    """A token bucket per channel: ``rate_per_s`` refill, ``burst`` capacity."""

    def __init__(self, rate_per_s: float = 1.0, burst: int = 3) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    async def wait(self, channel: str) -> None:
        """Return when one more message may be posted to ``channel``."""
        loop = asyncio.get_running_loop()
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(
                tokens=float(self.burst), updated=loop.time()
            )
        # the lock keeps waiters in arrival order, so thread replies keep their order
        async with bucket.lock:
            now = loop.time()
            bucket.tokens = min(
                self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s
            )
            bucket.updated = now
            if bucket.tokens < 1:
                delay = (1 - bucket.tokens) / self.rate_per_s
                await asyncio.sleep(delay)
                bucket.tokens = 1.0
                bucket.updated = loop.time()
            bucket.tokens -= 1
