"""Start the enabled intake sources and the case dispatcher: ``await run_intake(...)``."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field

from aiohttp import web

from bot.cases.manager import CaseManager, CasePoster, IncidentPoster
from bot.cases.resolution import CaseResolver, ResolutionPoster
from bot.intake.amqp import AmqpConfig, NotificationConsumer
from bot.intake.poller import (
    MigrationLister,
    MigrationsPoller,
    RunBlocking,
    in_thread,
)
from bot.intake.successes import SuccessPoller
from bot.intake.webhook import build_webhook_app, start_webhook
from bot.settings import BotSettings, IntakeSettings
from bot.store.repo import Store
from diagnostics.model import ConfigError
from diagnostics.settings import read_secret

log = logging.getLogger(__name__)


@dataclass
class RunningIntake:
    """The started sources; ``close()`` stops them (the store stays open: the caller owns it)."""

    cases: CaseManager
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consumer: NotificationConsumer | None = None
    webhook: web.AppRunner | None = None
    webhook_port: int | None = None

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()
        if self.webhook is not None:
            await self.webhook.cleanup()


def poller_interval(intake: IntakeSettings) -> float | None:
    """How often the poller runs, or None when it is off.

    Unset (``enabled: null``), it is the notifications' backstop: on with them, at the
    low ``backstop_interval_s``, so a notification the bus dropped (a broker restart, the
    seconds before the bot is bound again) still becomes a case.
    """
    poll = intake.poller
    if poll.enabled is None:
        return poll.backstop_interval_s if intake.notifications.enabled else None
    return poll.interval_s if poll.enabled else None


async def run_intake(
    settings: BotSettings,
    poster: CasePoster,
    store: Store,
    *,
    incident_poster: IncidentPoster,
    lister: MigrationLister | None = None,
    run_blocking: RunBlocking = in_thread,
    owner: str | None = None,
    resolution_poster: ResolutionPoster | None = None,
) -> RunningIntake:
    """Start every source enabled in ``settings.intake`` plus the dispatcher; returns at once.

    The pollers read /os-migrations through ``lister``, their blocking fetches run by
    ``run_blocking``: the serving bot passes its one OpenStack connection's (so the
    process holds one token) and that connection's intake worker.

    Raises ``ConfigError`` when an enabled source lacks its secret (AMQP URL, webhook
    secret) or when there is no channel to post in.
    """
    intake = settings.intake
    if settings.slack.default_channel is None and not intake.routes:
        raise ConfigError("intake needs slack.default_channel or intake.routes")
    cases = CaseManager(
        settings,
        store,
        poster,
        incident_poster,
        owner=owner,
    )
    running = RunningIntake(cases=cases, stop=asyncio.Event())
    try:
        if intake.notifications.enabled:
            source = intake.notifications
            url = os.environ.get(source.url_env)
            if not url:
                raise ConfigError(
                    f"intake.notifications: set ${source.url_env} to the AMQP URL"
                )
            config = AmqpConfig(
                url=url,
                exchange=source.exchange,
                queue=source.queue,
                routing_keys=source.routing_keys,
                prefetch=source.prefetch,
                exchange_durable=source.exchange_durable,
                exchange_auto_delete=source.exchange_auto_delete,
                reconnect_min_s=source.reconnect_min_s,
                reconnect_max_s=source.reconnect_max_s,
            )
            running.consumer = NotificationConsumer(
                config,
                cases,
                cases.intake,
                successes=CaseResolver(store, resolution_poster),
            )
            await running.consumer.start()
        if intake.webhook.enabled:
            hook = intake.webhook
            secret = read_secret(hook.secret_env, hook.secret_file)
            token = read_secret(hook.token_env, hook.token_file)
            if secret is None and token is None:
                raise ConfigError(
                    f"intake.webhook: set ${hook.secret_env} (HMAC) or"
                    f" ${hook.token_env} (bearer token), or their _file"
                )
            app = build_webhook_app(
                cases,
                cases.intake,
                secret.get_secret_value() if secret else None,
                token=token.get_secret_value() if token else None,
                alert_lag_s=hook.alert_lag_s,
                replays=cases.intake,  # shared through the store by every replica
            )
            running.webhook, running.webhook_port = await start_webhook(
                app, hook.host, hook.port
            )
            log.info("webhook listening on %s:%d", hook.host, running.webhook_port)
        poll = intake.poller
        interval = poller_interval(intake)
        if interval is not None:
            if lister is None:
                raise ConfigError("intake.poller: no OpenStack connection to poll with")
            # the same pass over /os-migrations also finds moves that succeeded later
            successes = SuccessPoller(
                lister,
                CaseResolver(store, resolution_poster),
                cases.intake,
                overlap_s=poll.overlap_s,
                page_size=poll.page_size,
                run_blocking=run_blocking,
            )
            running.tasks.append(
                asyncio.create_task(
                    successes.run(running.stop, interval), name="successes"
                )
            )
            poller = MigrationsPoller(
                lister,
                cases,
                cases.intake,
                overlap_s=poll.overlap_s,
                page_size=poll.page_size,
                run_blocking=run_blocking,
            )
            running.tasks.append(
                asyncio.create_task(poller.run(running.stop, interval), name="poller")
            )
        running.tasks.append(asyncio.create_task(cases.run(running.stop), name="cases"))
    except BaseException:
        await running.close()
        raise
    return running
