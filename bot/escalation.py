"""PagerDuty Events API v2: trigger an alert for a case (one alert per case via dedup_key).

PagerDuty's rules: 202 accepted; 400 is a bad event (never retried); 429 and 5xx are
retried with backoff, bounded (``attempts``, doubling from ``backoff_s``, Retry-After
honoured up to ``MAX_WAIT_S``); a network error counts as a failed attempt too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp
from pydantic import SecretStr

log = logging.getLogger(__name__)

SUMMARY_MAX = 1024
MAX_WAIT_S = 30.0
DEDUP_KEY_MAX = 255
Severity = Literal["critical", "error", "warning", "info"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationResult:
    accepted: bool
    status: str  # "accepted", "not configured", "http 400: ...", "unreachable: ..."


class Pager(Protocol):
    async def trigger(
        self,
        *,
        dedup_key: str,
        summary: str,
        source: str,
        severity: Severity = "error",
        custom_details: Mapping[str, Any] | None = None,
        links: tuple[tuple[str, str], ...] = (),
    ) -> EscalationResult: ...

    async def close(self) -> None: ...


def dedup_key_for(case_id: str) -> str:
    return f"migrate-diag:{case_id}"[:DEDUP_KEY_MAX]


class PagerDuty:
    """A 20-line aiohttp client instead of the requests-based SDK (keeps the loop free)."""

    def __init__(
        self,
        url: str,
        routing_key: SecretStr | None,
        timeout_s: float = 10.0,
        *,
        attempts: int = 4,
        backoff_s: float = 1.0,
    ) -> None:
        self.url = url
        self.routing_key = routing_key
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def trigger(
        self,
        *,
        dedup_key: str,
        summary: str,
        source: str,
        severity: Severity = "error",
        custom_details: Mapping[str, Any] | None = None,
        links: tuple[tuple[str, str], ...] = (),
    ) -> EscalationResult:
        if self.routing_key is None:
            return EscalationResult(
                accepted=False, status="not configured (no routing key)"
            )
        body = {
            "routing_key": self.routing_key.get_secret_value(),
            "event_action": "trigger",
            "dedup_key": dedup_key[:DEDUP_KEY_MAX],
            "payload": {
                "summary": summary[:SUMMARY_MAX],
                "source": source[:255] or "migrate-diag",
                "severity": severity,
                "component": "nova",
                "class": "vm-migration",
                "custom_details": dict(custom_details or {}),
            },
            "links": [{"href": href, "text": text} for href, text in links],
            "client": "migrate-diag",
        }
        result = EscalationResult(accepted=False, status="not sent")
        for attempt in range(self.attempts):
            result, retry_after = await self._send(body)
            if result.accepted or retry_after is None:
                return result
            if attempt + 1 < self.attempts:
                wait = min(MAX_WAIT_S, max(retry_after, self.backoff_s * 2**attempt))
                log.warning(
                    "PagerDuty %s; retrying in %.1f s (%d/%d)",
                    result.status,
                    wait,
                    attempt + 1,
                    self.attempts,
                )
                await asyncio.sleep(wait)  # PagerDuty's backoff rule
        log.warning(
            "PagerDuty gave up after %d attempts: %s", self.attempts, result.status
        )
        return result

    async def _send(
        self, body: dict[str, Any]
    ) -> tuple[EscalationResult, float | None]:
        """One POST; the second value is how long to wait before a retry (None: don't)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(self.url, json=body) as resp:
                text = await resp.text()
                if resp.status == 202:
                    return EscalationResult(accepted=True, status="accepted"), None
                result = EscalationResult(
                    accepted=False, status=f"http {resp.status}: {text[:200]}"
                )
                if resp.status == 429 or resp.status >= 500:
                    return result, _seconds(resp.headers.get("Retry-After"))
                return result, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return EscalationResult(accepted=False, status=f"unreachable: {exc}"), 0.0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header else 0.0
    except ValueError:
        return 0.0
