"""Nova's versioned notifications from RabbitMQ (aio-pika), acked only once a case is stored.

The bot owns one durable queue bound to Nova's exchange, so nothing published while the
bot restarts is lost. Nova's exchange is not durable by default (oslo.messaging declares
it ``topic``, ``durable=amqp_durable_queues``, ``auto_delete=amqp_auto_delete`` before it
publishes), so a broker restart forgets it and the bot's binding with it. The bot therefore
declares it itself, with the same flags, on every connection: aio-pika's robust channel
re-declares the exchange, the queue and the bindings as soon as it is back, before Nova's
next publish can find an exchange without our route. Reconnects start at once and back
off with the outage (:class:`BackoffConnection`). What still falls in the gap (published
while the broker was down or before we were back) is found by the migrations poller.
Malformed messages are rejected into a dead-letter exchange and recorded with their
reason; the consumer keeps going.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import ChannelPreconditionFailed
from aio_pika.robust_connection import RobustConnection
from yarl import URL

from bot.cases.report import MalformedEvent
from bot.intake.oslo import parse_envelope, report_from_body
from bot.intake.sinks import DeadLetters, ReportSink
from bot.intake.successes import SuccessSink, success_from_notification
from diagnostics.model import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AmqpConfig:
    url: str  # amqp://user:pass@host:5672/vhost (the vhost is the URL's path)
    exchange: str = "nova"
    queue: str = "migrate-diag.versioned_notifications"
    routing_keys: tuple[str, ...] = (
        "versioned_notifications.error",
        "versioned_notifications.info",
    )
    prefetch: int = 20
    exchange_durable: bool = (
        False  # as Nova's amqp_durable_queues (or rabbit_quorum_queue)
    )
    exchange_auto_delete: bool = False  # as Nova's amqp_auto_delete
    reconnect_min_s: float = 0.1
    reconnect_max_s: float = 5.0
    connection_name: str = "migrate-diag"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"


class BackoffConnection(RobustConnection):
    """aio-pika's robust connection with a retry interval that grows with the outage.

    aio-pika tries once at once when the connection drops, then sleeps
    ``reconnect_interval`` between attempts; here that interval is half the time the
    broker has been gone so far, between ``reconnect_min_s`` and ``reconnect_max_s``
    (a 5 s restart is retried within ~0.1-2.5 s; a long outage every 5 s, not a spin).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.reconnect_min_s = float(kwargs.pop("reconnect_min_s", 0.1))
        self.reconnect_max_s = float(kwargs.pop("reconnect_max_s", 5.0))
        self._lost_at: float | None = None
        super().__init__(*args, **kwargs)

    @property  # aio-pika assigns a plain attribute; here it is computed
    def reconnect_interval(self) -> float:
        if self._lost_at is None:
            return self.reconnect_min_s
        down = self.loop.time() - self._lost_at
        return min(self.reconnect_max_s, max(self.reconnect_min_s, down / 2))

    @reconnect_interval.setter
    def reconnect_interval(self, value: float) -> None:
        pass  # aio-pika's constructor sets its own; ours is computed

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        if self._lost_at is None:
            self._lost_at = self.loop.time()
        await super()._on_connection_close(closing)

    async def _on_connected(self) -> None:
        await super()._on_connected()
        self._lost_at = None


class NotificationConsumer:
    """Consumes the bot's queue; ``handled`` counts messages settled (acked or rejected)."""

    def __init__(
        self,
        config: AmqpConfig,
        sink: ReportSink,
        dead_letters: DeadLetters,
        successes: SuccessSink | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.successes = successes  # later moves that succeeded resolve open cases
        self.dead_letters = dead_letters
        self.connection: AbstractRobustConnection | None = None
        self.handled = 0
        self.reconnects = 0
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None

    async def start(self) -> None:
        """Connect, declare Nova's exchange, the queue and its dead-letter pair, bind, consume.

        Everything declared here is declared again by aio-pika on every reconnect (robust
        channel and queue), bindings included. Raises ``ConfigError`` when Nova's exchange
        exists with other flags (``exchange_durable`` must match Nova's setting).
        """
        cfg = self.config
        connection = BackoffConnection(
            URL(cfg.url),
            client_properties={"connection_name": cfg.connection_name},
            reconnect_min_s=cfg.reconnect_min_s,
            reconnect_max_s=cfg.reconnect_max_s,
        )
        await connection.connect()
        self.connection = connection
        self.connection.reconnect_callbacks.add(self._on_reconnect)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=cfg.prefetch)
        try:
            nova = await channel.declare_exchange(
                cfg.exchange,
                aio_pika.ExchangeType.TOPIC,
                durable=cfg.exchange_durable,
                auto_delete=cfg.exchange_auto_delete,
            )
        except ChannelPreconditionFailed as exc:
            raise ConfigError(
                f"intake.notifications: exchange {cfg.exchange!r} exists with other "
                f"flags than durable={cfg.exchange_durable}, "
                f"auto_delete={cfg.exchange_auto_delete}; set exchange_durable / "
                "exchange_auto_delete to Nova's amqp_durable_queues / amqp_auto_delete "
                f"({exc})"
            ) from exc
        dlx = await channel.declare_exchange(
            cfg.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        dead = await channel.declare_queue(cfg.dead_letter_queue, durable=True)
        await dead.bind(dlx)
        queue = await channel.declare_queue(
            cfg.queue,
            durable=True,
            arguments={"x-dead-letter-exchange": cfg.dead_letter_exchange},
        )
        for key in cfg.routing_keys:
            await queue.bind(nova, routing_key=key)
        self._queue = queue
        self._tag = await queue.consume(self._on_message, no_ack=False)
        log.info(
            "consuming %s from exchange %s (%s)",
            cfg.queue,
            cfg.exchange,
            cfg.routing_keys,
        )

    def _on_reconnect(self, *_: Any) -> None:
        self.reconnects += 1
        log.warning("reconnected to the broker (%d)", self.reconnects)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            report = report_from_body(message.body)
        except MalformedEvent as exc:
            log.warning("dead-lettering malformed notification: %s", exc.reason)
            await self.dead_letters.dead_letter(
                "notification", exc.reason, message.body
            )
            await self._settle(message.reject(requeue=False))
            return
        if report is None and self.successes is not None:
            found = success_from_notification(parse_envelope(message.body))
            if found is not None:
                try:
                    await self.successes.migration_succeeded(*found)
                except Exception:
                    log.exception("resolving cases of %s failed", found[0])
        if report is not None:
            try:
                await self.sink.submit(report)
            except Exception:
                # the store is unavailable: keep the message; the broker redelivers it
                log.exception("storing %s failed; requeueing", report.describe())
                await asyncio.sleep(1.0)  # do not spin on a database that is down
                await self._settle(message.nack(requeue=True), count=False)
                return
        await self._settle(message.ack())

    async def _settle(self, action: Any, *, count: bool = True) -> None:
        try:
            await action
        except Exception:
            # the channel died after the case was stored: the broker redelivers, dedupe absorbs it
            log.warning(
                "could not settle a message; it will be redelivered", exc_info=True
            )
            return
        if count:
            self.handled += 1

    async def stop(self, *, delete_queues: bool = False) -> None:
        """Stop consuming and disconnect; ``delete_queues`` also removes the bot's queue
        and its dead-letter pair (demos only: in production the queue must outlive us)."""
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception:
                log.debug("cancel on a closed channel", exc_info=True)
        if self.connection is not None:
            if delete_queues:
                channel = await self.connection.channel()
                await channel.queue_delete(self.config.queue)
                await channel.queue_delete(self.config.dead_letter_queue)
                await channel.exchange_delete(self.config.dead_letter_exchange)
            await self.connection.close()
            self.connection = None
