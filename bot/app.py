"""Build the Bolt AsyncApp and run it over Socket Mode (default) or HTTP (aiohttp)."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
)
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.web.async_client import AsyncWebClient

from bot import actions, commands, events
from bot.authz import Authorizer
from bot.escalation import PagerDuty
from bot.metrics import QUEUE_DEPTH, SlackCallCounter
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.services import Diagnoser, Services
from bot.settings import BotSettings
from bot.slots import DiagnosisSlots
from bot.store import Store
from diagnostics.model import ConfigError
from diagnostics.settings import read_secret

if TYPE_CHECKING:  # the SDK is imported by the engine, not by the bot's wiring
    from diagnostics.evidence.openstack_api import OpenStackApi

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Secrets:
    bot_token: SecretStr
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    routing_key: SecretStr | None = None

    @classmethod
    def from_settings(cls, settings: BotSettings) -> Secrets:
        """Read the tokens the settings point at; errors name what is missing."""
        s = settings.slack
        bot_token = read_secret(s.bot_token_env, s.bot_token_file)
        app_token = read_secret(s.app_token_env, s.app_token_file)
        signing = read_secret(s.signing_secret_env, s.signing_secret_file)
        routing = read_secret(
            settings.escalation.routing_key_env, settings.escalation.routing_key_file
        )
        if bot_token is None or not bot_token.get_secret_value().startswith("xoxb-"):
            raise ConfigError(
                f"slack: set {s.bot_token_env} to the bot token (xoxb-...)"
            )
        if s.mode == "socket" and (
            app_token is None or not app_token.get_secret_value().startswith("xapp-")
        ):
            raise ConfigError(
                f"slack: Socket Mode needs {s.app_token_env} (xapp-..., connections:write)"
            )
        if s.mode == "http" and signing is None:
            raise ConfigError(f"slack: HTTP mode needs {s.signing_secret_env}")
        return cls(
            bot_token=bot_token,
            app_token=app_token,
            signing_secret=signing,
            routing_key=routing,
        )


class ProportionalJitter(Jitter):
    """Up to half the interval again (the SDK's RandomJitter adds a flat 0-1 s)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 2)  # spreads retries of many clients


def build_client(settings: BotSettings, bot_token: SecretStr) -> AsyncWebClient:
    """The Web API client; Socket Mode's apps.connections.open goes through it too.

    slack_sdk's retry handlers, bounded: 429 after its Retry-After, 500/503 and dropped
    connections with exponential backoff; then the call raises and the caller gives up
    with the reason (``bot.posting.writer.DeliveryFailed``).
    """
    s = settings.slack
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=s.retry_backoff_s, jitter=ProportionalJitter()
    )
    return AsyncWebClient(
        token=bot_token.get_secret_value(),
        base_url=s.api_base_url,
        retry_handlers=[
            SlackCallCounter(),  # first: sees every attempt, never retries itself
            AsyncConnectionErrorRetryHandler(
                max_retry_count=s.retries, interval_calculator=backoff
            ),
            AsyncServerErrorRetryHandler(
                max_retry_count=s.retries, interval_calculator=backoff
            ),
            AsyncRateLimitErrorRetryHandler(max_retry_count=s.retries),
        ],
    )


def build_app(
    services: Services, client: AsyncWebClient, signing_secret: SecretStr | None
) -> tuple[AsyncApp, SlackCasePoster]:
    http_mode = services.settings.slack.mode == "http"
    app = AsyncApp(
        client=client,
        # Socket Mode payloads are not signed; never fall back to SLACK_SIGNING_SECRET silently
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        request_verification_enabled=http_mode,
    )
    poster = SlackCasePoster(client, services)
    QUEUE_DEPTH.set_function(lambda: poster.writer.queued() + services.pacer.queued())
    commands.register(app, services, poster)
    actions.register(app, services, poster)
    events.register(app, services, poster)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        correlation = uuid.uuid4().hex[:8]
        log.error(
            "listener failed [%s] on %s", correlation, body.get("type"), exc_info=error
        )

    return app, poster


def build_services(
    settings: BotSettings,
    *,
    diagnoser: Diagnoser,
    store: Store,
    client: AsyncWebClient,
    routing_key: SecretStr | None,
    pacer: ChannelPacer | None = None,
    openstack: OpenStackApi | None = None,
) -> Services:
    return Services(
        settings=settings,
        diagnoser=diagnoser,
        store=store,
        openstack=openstack,
        pager=PagerDuty(
            settings.escalation.pagerduty_url,
            routing_key,
            attempts=settings.escalation.attempts,
            backoff_s=settings.escalation.retry_backoff_s,
        ),
        pacer=pacer
        or ChannelPacer(
            rate_per_s=settings.slack.post_rate_per_s, burst=settings.slack.post_burst
        ),
        authz=Authorizer(settings.access, client),
        diagnosis_slots=DiagnosisSlots(
            settings.slack.max_concurrent_diagnoses,
            reserved=settings.slack.reserved_interactive_diagnoses,
        ),
    )


@dataclass(slots=True, kw_only=True)
class RunningBot:
    """A started bot; ``close`` stops listening, finishes background work and closes clients."""

    app: AsyncApp
    services: Services
    poster: SlackCasePoster
    socket: AsyncSocketModeHandler | None = None
    runner: web.AppRunner | None = None
    http_port: int | None = None
    recovery: asyncio.Task[None] | None = None  # re-runs cases a dead process left

    @property
    def services_client(self) -> AsyncWebClient:
        return self.poster.client

    _closed: bool = field(default=False)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.recovery is not None:
            self.recovery.cancel()
            await asyncio.gather(self.recovery, return_exceptions=True)
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        if self.runner is not None:
            await self.runner.cleanup()
        # a watch is bounded, but by up to an hour: cancelled, not awaited
        await self.services.watches.cancel_all()
        await self.services.tasks.drain()
        await self.poster.storms.close()
        await self.services.pager.close()


async def start_bot(
    services: Services,
    client: AsyncWebClient,
    secrets: Secrets,
    *,
    http_host: str | None = None,
    http_port: int | None = None,
) -> RunningBot:
    """Start listening: Socket Mode (``connect_async``, the loop stays free) or HTTP."""
    settings = services.settings.slack
    app, poster = build_app(services, client, secrets.signing_secret)
    bot = RunningBot(app=app, services=services, poster=poster)
    bot.recovery = asyncio.create_task(poster.watch_stale(), name="recover-cases")
    if settings.mode == "socket":
        assert secrets.app_token is not None
        bot.socket = AsyncSocketModeHandler(
            app,
            app_token=secrets.app_token.get_secret_value(),
            web_client=client,
            proxy=None,
            ping_interval=settings.socket_ping_interval_s,
        )
        await bot.socket.connect_async()  # type: ignore[no-untyped-call]
        return bot
    bot.runner = web.AppRunner(app.web_app(path="/slack/events"))
    await bot.runner.setup()
    site = web.TCPSite(
        bot.runner,
        http_host if http_host is not None else settings.http_host,
        http_port if http_port is not None else settings.http_port,
    )
    await site.start()
    server = site._server  # aiohttp has no public accessor for the bound port (port 0)
    sockets = getattr(server, "sockets", None) or []
    bot.http_port = sockets[0].getsockname()[1] if sockets else settings.http_port
    return bot
