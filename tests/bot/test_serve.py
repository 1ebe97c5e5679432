"""`serve` against the simulated region and the Slack stand-in: /metrics, /healthz, /readyz.

The store is a real PostgreSQL reached through a TCP forwarder the test can cut, so
"the store is unreachable" is a refused connection, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.serve import serve
from bot.settings import (
    BotSettings,
    HealthSettings,
    LoggingSettings,
    SlackSettings,
    StoreSettings,
)
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.fakeslack import FakeSlack, Message
from tests.intake.conftest import wait_for

pytestmark = pytest.mark.integration
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCENARIO = "libvirt-tls-expired-cert"
DEADLINE_S = 30.0


class Forwarder:
    """127.0.0.1:port → PostgreSQL; ``cut()`` refuses and drops, ``restore()`` undoes it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.down = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self._open |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._open -= {writer, up_writer}

    def cut(self) -> None:
        self.down = True
        for writer in list(self._open):
            writer.close()

    def restore(self) -> None:
        self.down = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    name = f"md_serve_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield name
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(
    probe: Callable[[], Awaitable[Any]], wanted: Callable[[Any], bool]
) -> Any:
    """Probe (an HTTP GET) until its answer is wanted, within the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        # readiness is only observable over HTTP, so poll it as a kubelet does
        while not wanted(answer := await probe()):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return answer


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.timeout(180)
async def test_serve_metrics_and_readiness(
    fake: FakeSlack,
    tmp_path: Path,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/metrics counts a slash command's diagnosis; /readyz follows the store and Slack."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test-token")
    forwarder = Forwarder(5432)
    await forwarder.start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = base.model_copy(
            update={
                "slack": SlackSettings(
                    api_base_url=fake.api_url,
                    update_interval_s=0.05,
                    retry_backoff_s=0.01,
                    socket_ping_interval_s=0.5,
                    post_rate_per_s=20,
                    post_burst=5,
                ),
                "store": StoreSettings(
                    url=f"postgresql+asyncpg://postgres@127.0.0.1:{forwarder.port}/{pg_database}"
                ),
                "health": HealthSettings(host="127.0.0.1", port=port),
                "logging": LoggingSettings(level="INFO"),
            }
        )
        running = asyncio.create_task(serve(settings, configure_logging=False))
        try:
            async with aiohttp.ClientSession() as http:

                async def get(path: str) -> tuple[int, str]:
                    try:
                        async with http.get(base_url + path) as resp:
                            return resp.status, await resp.text()
                    except aiohttp.ClientConnectionError:
                        return 0, ""  # not listening yet

                assert await until(lambda: get("/healthz"), lambda a: a[0] == 200)
                ready = await until(lambda: get("/readyz"), lambda a: a[0] == 200)
                assert json.loads(ready[1])["checks"] == {
                    "slack": "ok",
                    "store": "ok",
                    "cloud": "ok",
                }

                # a slash command; /metrics then counts its diagnosis by root cause
                _, before = await get("/metrics")
                labels = {"root_cause": "libvirt_tls", "confidence": "confirmed"}
                seen = metric(before, "migrate_diag_diagnoses_total", **labels)
                await fake.slash(
                    "/migrate-diag", "web-02", user="U0OPER001", channel=OPS
                )

                def final(m: Message | None) -> bool:
                    return m is not None and "diag.rerun" in json.dumps(m.blocks)

                await fake.wait_for(
                    lambda: (h := fake.history(OPS)) and final(h[0]), timeout=60
                )
                _, after = await until(
                    lambda: get("/metrics"),
                    lambda a: (
                        metric(a[1], "migrate_diag_diagnoses_total", **labels) > seen
                    ),
                )
                assert (
                    metric(after, "migrate_diag_diagnoses_total", **labels) == seen + 1
                )
                assert (
                    metric(
                        after,
                        "migrate_diag_slack_api_calls_total",
                        method="chat.postMessage",
                    )
                    >= 1
                )
                assert metric(after, "migrate_diag_diagnosis_seconds_count") >= 1
                assert re.search(r'migrate_diag_step_seconds_count\{step="7"\}', after)
                assert "migrate_diag_diagnoses_in_flight 0.0" in after

                # the store goes away, then comes back
                forwarder.cut()
                down = await until(lambda: get("/readyz"), lambda a: a[0] == 503)
                checks = json.loads(down[1])["checks"]
                assert checks["store"] != "ok"
                assert checks["slack"] == "ok"
                forwarder.restore()
                await until(lambda: get("/readyz"), lambda a: a[0] == 200)

                # Slack goes away (no new connection; the socket dropped), then comes back
                fake.inject(
                    "apps.connections.open",
                    status=200,
                    error="internal_error",
                    times=10**6,
                )
                await fake.socket.close()
                down = await until(lambda: get("/readyz"), lambda a: a[0] == 503)
                assert (
                    json.loads(down[1])["checks"]["slack"]
                    == "Socket Mode not connected"
                )
                assert (await get("/healthz"))[0] == 200  # alive all along
                fake.clear_injections()
                await until(lambda: get("/readyz"), lambda a: a[0] == 200)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await forwarder.stop()


@pytest.mark.timeout(180)
async def test_serve_authenticates_once_for_diagnoses_and_the_poller(
    fake: FakeSlack,
    tmp_path: Path,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A serving bot with the /os-migrations poller on posts the failure the poller
    found and answers a slash command, on one Keystone token: the sim sees exactly one
    POST /v3/auth/tokens (no token cache, so every connection would have to ask)."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test-token")
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = base.model_validate(
            {
                **base.model_dump(),
                "openstack": {**base.openstack.model_dump(), "token_cache": False},
                "slack": {
                    "api_base_url": fake.api_url,
                    "update_interval_s": 0.05,
                    "retry_backoff_s": 0.01,
                    "post_rate_per_s": 20,
                    "post_burst": 5,
                    "default_channel": OPS,
                },
                "store": {
                    "url": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_database}"
                },
                "health": {"enabled": False},
                "intake": {
                    "poller": {"enabled": True, "interval_s": 0.5},
                    "storms": {"group_wait_s": 0},
                },
            }
        )
        running = asyncio.create_task(serve(settings, configure_logging=False))
        try:

            def final(m: Message) -> bool:
                return m.thread_ts is None and "diag.rerun" in json.dumps(m.blocks)

            # the poller's case: found in /os-migrations, diagnosed, posted
            await fake.wait_for(
                lambda: any(final(m) for m in fake.history(OPS)), timeout=60
            )
            polls = [r for r in region.requests if r.endswith("/os-migrations")]
            await fake.slash("/migrate-diag", "web-02", user="U0OPER001", channel=OPS)
            await fake.wait_for(
                lambda: sum(final(m) for m in fake.history(OPS)) >= 2, timeout=60
            )
            # and the poller keeps polling on the same token
            await wait_for(
                lambda: (
                    len([r for r in region.requests if r.endswith("/os-migrations")])
                    > len(polls)
                ),
                timeout=30,
            )
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        tokens = [r for r in region.requests if r == "POST /identity/v3/auth/tokens"]
        assert len(tokens) == 1, tokens
        assert polls, "the poller never polled"
