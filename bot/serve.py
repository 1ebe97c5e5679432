"""``migrate-diag serve``: the long-running Slack bot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot import logs
from bot.app import RunningBot, Secrets, build_client, build_services, start_bot
from bot.health import Readiness, start_health, store_check, tcp_check
from bot.intake.poller import SdkMigrationLister
from bot.intake.runner import run_intake
from bot.posting.incidents import SlackIncidentPoster
from bot.posting.resolution import SlackResolutionPoster
from bot.settings import BotSettings
from bot.store import Store
from diagnostics.service import open_engine

log = logging.getLogger(__name__)


def intake_enabled(settings: BotSettings) -> bool:
    """Any automatic source on? Without one the bot is slash-only and needs no channel."""
    sources = settings.intake
    return (
        sources.notifications.enabled
        or sources.poller.enabled
        or sources.webhook.enabled
    )


def identity_url(settings: BotSettings) -> str | None:
    """The cloud's Keystone URL from clouds.yaml (what /readyz checks is reachable)."""
    from openstack.config import OpenStackConfig

    conf = settings.openstack
    try:
        files = [str(conf.clouds_file.expanduser())] if conf.clouds_file else None
        region = OpenStackConfig(config_files=files).get_one(
            cloud=conf.cloud, region_name=conf.region_name
        )
        url = (region.config.get("auth") or {}).get("auth_url")
    except Exception as exc:  # the engine reports a bad cloud config itself
        log.warning("cannot tell the cloud's identity URL for /readyz: %s", exc)
        return None
    return str(url) if url else None


def slack_check(bot: RunningBot) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        if bot.socket is not None:
            connected = await bot.socket.client.is_connected()
            return None if connected else "Socket Mode not connected"
        await bot.services_client.auth_test()  # HTTP mode: the token still works
        return None

    return check


async def serve(settings: BotSettings, *, configure_logging: bool = True) -> None:
    """Run until cancelled (Ctrl-C / SIGTERM cancel the surrounding asyncio.run)."""
    if configure_logging:  # tests keep pytest's own log capture
        logs.configure(settings.logging.format, settings.logging.level)
    secrets = Secrets.from_settings(settings)
    client = build_client(settings, secrets.bot_token)
    store = await Store.open(settings.store.url)
    try:
        # one SSH pool for the process: warm diagnoses skip every handshake
        async with open_engine(settings, keep_ssh=True) as engine:
            services = build_services(
                settings,
                diagnoser=engine,
                store=store,
                client=client,
                routing_key=secrets.routing_key,
                openstack=engine.clients.openstack,  # the watch's reads: one token
            )
            bot = await start_bot(services, client, secrets)
            health = None
            try:
                if settings.health.enabled:
                    readiness = Readiness(
                        checks={
                            "slack": slack_check(bot),
                            "store": store_check(store),
                            "cloud": tcp_check(
                                await asyncio.to_thread(identity_url, settings)
                            ),
                        }
                    )
                    health, _ = await start_health(
                        readiness, settings.health.host, settings.health.port
                    )
                intake = None
                if intake_enabled(settings):
                    # the pollers share the engine's connection: one token per process
                    api = engine.clients.openstack
                    intake = await run_intake(
                        settings,
                        bot.poster,
                        store,
                        incident_poster=SlackIncidentPoster(
                            bot.poster.writer, bot.poster.storms
                        ),
                        resolution_poster=SlackResolutionPoster(bot.poster),
                        lister=SdkMigrationLister(api.conn),
                        run_blocking=api.run_intake,
                    )
                else:
                    log.info("intake off: slash commands only")
                log.info(
                    "connected to Slack (%s mode%s); listening for %s",
                    settings.slack.mode,
                    f", http port {bot.http_port}" if bot.http_port else "",
                    settings.slack.command,
                )
                try:
                    await asyncio.Event().wait()
                finally:
                    if intake is not None:
                        await intake.close()
            finally:
                if health is not None:
                    await health.cleanup()
                await bot.close()
    finally:
        await store.close()
