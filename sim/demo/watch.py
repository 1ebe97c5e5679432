"""`migrate-diag demo --watch`: the region fails a migration and the bot posts unprompted.

A simulated region runs in this process and publishes Nova's versioned notifications to
RabbitMQ (``$MIGRATE_DIAG_AMQP_URL``, default the local broker). The bot's intake consumes
them, the case manager opens a case and the real ``SlackCasePoster`` diagnoses and posts it into
an in-memory Slack recorder, drawn as an HTML thread preview. Without a reachable broker
the /os-migrations poller is the source instead (it works with no message bus at all).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, TextIO, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_services
from bot.cases.manager import CaseManager
from bot.intake.amqp import AmqpConfig, NotificationConsumer
from bot.intake.poller import MigrationsPoller, SdkMigrationLister
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.settings import BotSettings
from bot.store import Store
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.model import MigrationRef
from diagnostics.report import text
from diagnostics.service import open_engine
from sim.demo.demo import (
    DEMO_CHANNEL,
    SlackRecorder,
    StreamingDiagnoser,
    embedded_region,
    write_preview,
)
from sim.region.state import server_by_name
from sim.scenario.load import load_scenario
from sim.scenario.model import Scenario
from sim.testing import api_client
from sim.wiring import Region

log = logging.getLogger(__name__)

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
_ACTIONS: dict[str, tuple[str, str]] = {
    "live-migration": ("os-migrateLive", "2.96"),
    "migration": ("migrate", "2.56"),
    "evacuation": ("evacuate", "2.96"),
}


def _failing_server(scenario: Scenario) -> tuple[str, str, str | None]:
    """(server name, migration kind, destination) of the server whose next move fails."""
    for server in scenario.servers:
        outcome = server.on_migrate
        if (
            outcome is not None
            and outcome.kind in _ACTIONS
            and outcome.api_error is None
        ):
            return server.name, outcome.kind, outcome.dest
    raise ValueError(
        f"scenario {scenario.name} has no server whose migration fails on demand"
    )


def _action_body(kind: str, dest: str | None) -> dict[str, Any]:
    action, _ = _ACTIONS[kind]
    if action == "os-migrateLive":
        return {action: {"host": dest, "block_migration": "auto"}}
    if action == "migrate":
        return {action: {"host": dest} if dest else None}
    return {action: {"host": dest} if dest else {}}


class _SignallingPoster:
    """The real poster, plus an event set once the first case has been posted."""

    def __init__(self, poster: SlackCasePoster) -> None:
        self.poster = poster
        self.posted = asyncio.Event()

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
    ) -> None:
        await self.poster.post_case(
            case_id, ref, channel, thread_ts, source="notification"
        )
        self.posted.set()


async def _broker_reachable(url: str) -> bool:
    import aio_pika

    try:
        connection = await asyncio.wait_for(aio_pika.connect(url), timeout=3)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError):
        return False
    await connection.close()
    return True


async def watch_demo(
    scenario_name: str,
    out: TextIO,
    *,
    html_path: Path = Path("demo-thread.html"),
    amqp_url: str | None = None,
    timeout_s: float = 60.0,
) -> int:
    """Fail a migration in an embedded region and let the bot post about it by itself."""
    scenario = load_scenario(scenario_name)
    vm, kind, dest = _failing_server(scenario)
    url = amqp_url or os.environ.get("MIGRATE_DIAG_AMQP_URL") or DEFAULT_AMQP_URL
    use_bus = await _broker_reachable(url)
    out.write(
        f"Starting a simulated region: {scenario.name} — {scenario.description}\n"
    )
    out.write(
        "Watching Nova's notifications on RabbitMQ\n"
        if use_bus
        else "No RabbitMQ reachable: watching GET /os-migrations instead\n"
    )
    recorder = SlackRecorder()
    with tempfile.TemporaryDirectory(prefix="migrate-diag-watch-") as tmp:
        bus = url if use_bus else None
        async with embedded_region(scenario, Path(tmp), bus) as (region, base):
            settings = base.model_copy(
                update={
                    "slack": base.slack.model_copy(
                        update={"default_channel": DEMO_CHANNEL}
                    ),
                    "intake": base.intake.model_copy(
                        update={
                            "storms": base.intake.storms.model_copy(
                                update={"group_wait_s": 0}
                            )
                        }
                    ),
                }
            )
            store = await Store.open(settings.store.url)
            try:
                await _watch(
                    region,
                    settings,
                    store,
                    recorder,
                    out,
                    vm,
                    kind,
                    dest,
                    use_bus,
                    url,
                    timeout_s,
                )
            finally:
                await store.close()
    await write_preview(recorder, html_path, f"migrate-diag (automatic): {vm}", out)
    return 0


async def _watch(
    region: Region,
    settings: BotSettings,
    store: Store,
    recorder: SlackRecorder,
    out: TextIO,
    vm: str,
    kind: str,
    dest: str | None,
    use_bus: bool,
    url: str,
    timeout_s: float,
) -> None:
    async with open_engine(settings) as engine:
        client = cast(AsyncWebClient, recorder)
        pacer = ChannelPacer(rate_per_s=50, burst=50)
        services = build_services(
            settings,
            diagnoser=StreamingDiagnoser(engine, out, text.Style(out.isatty())),
            store=store,
            client=client,
            routing_key=None,
            pacer=pacer,
        )
        slack_poster = SlackCasePoster(client, services)
        poster = _SignallingPoster(slack_poster)
        cases = CaseManager(
            settings,
            store,
            poster,
            SlackIncidentPoster(slack_poster.writer, slack_poster.storms),
        )
        consumer: NotificationConsumer | None = None
        if use_bus:
            queue = f"migrate-diag-watch-{uuid.uuid4().hex[:8]}"
            config = AmqpConfig(url=url, queue=queue, connection_name=queue)
            consumer = NotificationConsumer(config, cases, cases.intake)
            await consumer.start()
        stop = asyncio.Event()
        dispatcher = asyncio.create_task(cases.run(stop, poll_s=0.2))
        try:
            server_id = server_by_name(region.state, vm)["id"]
            action, version = _ACTIONS[kind]
            out.write(
                f"Requesting {kind} of {vm} ({action}); the region will make it fail…\n\n"
            )
            async with api_client(region) as api:
                status, body, _ = await api.post(
                    f"/compute/v2.1/servers/{server_id}/action",
                    _action_body(kind, dest),
                    version=version,
                )
            if status != 202:
                raise RuntimeError(f"the region refused the {action}: {status} {body}")
            await region.wait_idle()
            if consumer is None:
                conn = OpenStackApi.from_settings(settings.openstack).conn
                poller = MigrationsPoller(SdkMigrationLister(conn), cases, cases.intake)
                await poller.poll_once()
                conn.close()
            await asyncio.wait_for(poster.posted.wait(), timeout_s)
        finally:
            stop.set()
            await dispatcher
            await services.tasks.drain()
            if consumer is not None:
                await consumer.stop(delete_queues=True)
