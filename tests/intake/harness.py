"""A bot "replica" for the broker tests (store + case manager + consumer) and Nova's own
producer: oslo.messaging's Notifier publishing real notification samples."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import oslo_messaging
from oslo_config import cfg

from bot.cases.manager import CaseManager, CasePoster, IncidentPoster
from bot.intake.amqp import AmqpConfig, NotificationConsumer
from bot.settings import BotSettings
from bot.store.repo import Store
from tests.intake.samples import sample

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


@dataclass
class Broker:
    """Unique names for one test: Nova's exchange, the notification topic, the bot's queue."""

    exchange: str
    topic: str
    queue: str
    extra_queues: list[str] = field(default_factory=list)

    def config(self, name: str, prefetch: int = 10) -> AmqpConfig:
        return AmqpConfig(
            url=AMQP_URL,
            exchange=self.exchange,
            queue=self.queue,
            routing_keys=(f"{self.topic}.error", f"{self.topic}.info"),
            prefetch=prefetch,
            connection_name=name,
        )


@asynccontextmanager
async def broker() -> AsyncIterator[Broker]:
    """Declare Nova's exchange as oslo does (topic, not durable); delete everything after."""
    suffix = uuid.uuid4().hex[:10]
    names = Broker(
        exchange=f"nova-{suffix}", topic=f"vn-{suffix}", queue=f"md-{suffix}"
    )
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=False
    )
    try:
        yield names
    finally:
        queues = [
            names.queue,
            f"{names.queue}.dead",
            f"{names.topic}.error",  # oslo's default queues, created when it publishes
            f"{names.topic}.info",
            *names.extra_queues,
        ]
        for queue in queues:
            with suppress(Exception):
                channel = await connection.channel()
                await channel.queue_delete(queue)
        for exchange in (names.exchange, f"{names.queue}.dlx"):
            with suppress(Exception):
                channel = await connection.channel()
                await channel.exchange_delete(exchange)
        await connection.close()


class Nova:
    """Publishes with oslo.messaging's Notifier, exactly as nova-compute/conductor do."""

    def __init__(self, names: Broker, driver: str = "messagingv2") -> None:
        self.conf = cfg.ConfigOpts()
        self.conf([], project="nova")
        # the driver reads control_exchange when the transport is built: override it first
        self.conf.register_opts(oslo_messaging.transport._transport_opts)
        self.conf.set_override("control_exchange", names.exchange)
        self.transport = oslo_messaging.get_notification_transport(
            self.conf, url=RABBIT_URL
        )
        self.topic = names.topic
        self.driver = driver
        self._notifiers: dict[str, Any] = {}

    def _notifier(self, publisher_id: str) -> Any:
        if publisher_id not in self._notifiers:
            self._notifiers[publisher_id] = oslo_messaging.Notifier(
                self.transport,
                publisher_id=publisher_id,
                driver=self.driver,
                topics=[self.topic],
            )
        return self._notifiers[publisher_id]

    def _send(
        self, event_type: str, request_id: str | None, data: dict[str, Any]
    ) -> None:
        note = sample(event_type, **data)
        if request_id and "request_id" in note["payload"].get("nova_object.data", {}):
            note["payload"]["nova_object.data"]["request_id"] = (
                request_id  # as Nova fills it
            )
        notifier = self._notifier(note["publisher_id"])
        ctxt = {"request_id": request_id} if request_id else {}
        method = notifier.error if note["priority"] == "ERROR" else notifier.info
        method(ctxt, event_type, note["payload"])

    async def send(
        self, event_type: str, request_id: str | None = None, **data: Any
    ) -> None:
        # kombu is blocking: off the event loop
        await asyncio.to_thread(self._send, event_type, request_id, data)

    def close(self) -> None:
        self.transport.cleanup()


@dataclass
class Replica:
    store: Store
    cases: CaseManager
    consumer: NotificationConsumer
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shutdown(self) -> None:
        self.stop.set()
        await self.task
        await self.consumer.stop()
        await self.store.close()


async def start_replica(
    url: str,
    names: Broker,
    settings: BotSettings,
    poster: CasePoster,
    incidents: IncidentPoster,
    name: str,
    prefetch: int = 10,
) -> Replica:
    store = await Store.open(url)
    cases = CaseManager(settings, store, poster, incidents, owner=name)
    consumer = NotificationConsumer(names.config(name, prefetch), cases, cases.intake)
    await consumer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(cases.run(stop, poll_s=0.1))
    return Replica(store=store, cases=cases, consumer=consumer, stop=stop, task=task)


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl (root on this broker's host); returns its output."""
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def close_connection_server_side(name: str) -> bool:
    """Close our connection from the broker's side (what a broker restart looks like).

    Only the connection with our unique ``connection_name`` is closed, so other tests and
    services sharing the broker are not disturbed.
    """
    listing = subprocess.run(
        [
            "rabbitmqctl",
            "list_connections",
            "pid",
            "client_properties",
            "-q",
            "--no-table-headers",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    closed = False
    for line in listing.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        if f'"{name}"' in properties:
            subprocess.run(
                [
                    "rabbitmqctl",
                    "close_connection",
                    pid,
                    "test: simulated broker restart",
                ],
                capture_output=True,
                check=True,
                timeout=30,
            )
            closed = True
    return closed
