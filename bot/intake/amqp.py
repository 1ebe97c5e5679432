"""Nova's versioned notifications from RabbitMQ (aio-pika), acked only once a case is stored.

The bot owns one durable queue bound to Nova's existing exchange (looked up passively:
redeclaring it with other flags fails with PRECONDITION_FAILED), so nothing published
while the bot restarts is lost. Malformed messages are rejected into a dead-letter
exchange and recorded with their reason; the consumer keeps going.
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

from bot.cases.report import MalformedEvent
from bot.intake.oslo import report_from_body
from bot.intake.sinks import DeadLetters, ReportSink

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
    reconnect_interval_s: float = 5.0
    connection_name: str = "migrate-diag"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"


class NotificationConsumer:
    """Consumes the bot's queue; ``handled`` counts messages settled (acked or rejected)."""

    def __init__(
        self, config: AmqpConfig, sink: ReportSink, dead_letters: DeadLetters
    ) -> None:
        self.config = config
        self.sink = sink
        self.dead_letters = dead_letters
        self.connection: AbstractRobustConnection | None = None
        self.handled = 0
        self.reconnects = 0
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None

    async def start(self) -> None:
        """Connect, declare the queue and its dead-letter pair, bind, and start consuming."""
        cfg = self.config
        self.connection = await aio_pika.connect_robust(
            cfg.url,
            client_properties={"connection_name": cfg.connection_name},
            reconnect_interval=cfg.reconnect_interval_s,
        )
        self.connection.reconnect_callbacks.add(self._on_reconnect)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=cfg.prefetch)
        # passive: Nova (oslo) owns the exchange and its flags
        nova = await channel.get_exchange(cfg.exchange, ensure=True)
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
