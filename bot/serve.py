"""``migrate-diag serve``: the long-running Slack bot."""

from __future__ import annotations

import asyncio
import logging

from bot.app import Secrets, build_client, build_services, start_bot
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


async def serve(settings: BotSettings) -> None:
    """Run until cancelled (Ctrl-C / SIGTERM cancel the surrounding asyncio.run)."""
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
            )
            bot = await start_bot(services, client, secrets)
            try:
                intake = None
                if intake_enabled(settings):
                    intake = await run_intake(
                        settings,
                        bot.poster,
                        store,
                        incident_poster=SlackIncidentPoster(client, services.pacer),
                        resolution_poster=SlackResolutionPoster(bot.poster),
                    )
                else:
                    log.info("intake off: slash commands only")
                log.info("migrate-diag bot listening (%s mode)", settings.slack.mode)
                try:
                    await asyncio.Event().wait()
                finally:
                    if intake is not None:
                        await intake.close()
            finally:
                await bot.close()
    finally:
        await store.close()
