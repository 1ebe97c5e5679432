"""The operator's HTTP port (``health.host/port``), served in Socket Mode too.

- ``GET /healthz`` — 200 while the event loop answers (liveness; Docker HEALTHCHECK).
- ``GET /readyz`` — 200 when Slack is connected, the store answers and the cloud's
  identity endpoint is reachable; 503 otherwise, with each check's answer as JSON.
- ``GET /metrics`` — Prometheus text format (``bot.metrics.REGISTRY``).

Each check has a short timeout, so a hung dependency makes the bot unready, not the probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from bot import metrics
from bot.store import Store
from bot.store.intake_models import IncidentRow
from bot.store.models import CaseRow

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0
Check = Callable[[], Awaitable[str | None]]  # None: fine; else what is wrong


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    """The readiness checks, by name; each returns None or the reason it is not ready."""

    checks: dict[str, Check]

    async def run(self) -> dict[str, str]:
        async def one(check: Check) -> str:
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_S):
                    problem = await check()
            except TimeoutError:
                return f"no answer within {CHECK_TIMEOUT_S:g} s"
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"[:300]
            return "ok" if problem is None else problem

        names = list(self.checks)
        answers = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return dict(zip(names, answers, strict=True))


def store_check(store: Store) -> Check:
    """The store answers a query; refreshes the open cases/incidents gauges on the way."""

    async def check() -> str | None:
        async with store.sessions() as session:
            await session.execute(text("SELECT 1"))
            states = await session.execute(
                select(CaseRow.state, func.count()).group_by(CaseRow.state)
            )
            metrics.CASES_OPEN.clear()
            for state, count in states.all():
                if state in (None, "diagnosing"):
                    metrics.CASES_OPEN.labels(state=state or "new").set(count)
            open_incidents = await session.scalar(
                select(func.count()).where(IncidentRow.closed_at.is_(None))
            )
            metrics.INCIDENTS_OPEN.set(open_incidents or 0)
        return None

    return check


def tcp_check(url: str | None) -> Check:
    """The cloud's identity endpoint accepts a TCP connection (no credentials spent)."""

    async def check() -> str | None:
        if not url:
            return None  # no cloud configured: nothing to wait for
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()
        return None

    return check


def build_health_app(readiness: Readiness) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(_: web.Request) -> web.Response:
        answers = await readiness.run()
        ready = all(a == "ok" for a in answers.values())
        if not ready:
            log.info("not ready: %s", {k: v for k, v in answers.items() if v != "ok"})
        return web.json_response(
            {"ready": ready, "checks": answers}, status=200 if ready else 503
        )

    async def serve_metrics(_: web.Request) -> web.Response:
        body = generate_latest(metrics.REGISTRY)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", serve_metrics)
    return app


async def start_health(
    readiness: Readiness, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve the port; returns the runner and the bound port (0 picks a free one)."""
    runner = web.AppRunner(build_health_app(readiness), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server: Any = site._server  # aiohttp exposes the bound port only here
    bound = int(server.sockets[0].getsockname()[1])
    log.info(
        "health: listening on http://%s:%d (/healthz /readyz /metrics)", host, bound
    )
    return runner, bound
