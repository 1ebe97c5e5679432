"""The notification consumer against the real local RabbitMQ, fed by oslo.messaging's Notifier."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import aio_pika
import pytest
from yarl import URL

from bot.intake.amqp import BackoffConnection, NotificationConsumer
from diagnostics.model import ConfigError
from tests.intake.conftest import (
    RecordingIncidents,
    RecordingPoster,
    bot_settings,
    wait_for,
)
from tests.intake.harness import (
    AMQP_URL,
    Nova,
    broker,
    close_connection_server_side,
    start_replica,
)

pytestmark = pytest.mark.integration


def vm(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def publish_failures(nova: Nova, first: int, count: int) -> None:
    """One failed live migration per VM, each on its own host (no storm)."""
    for n in range(first, first + count):
        await nova.send(
            "instance.live_migration_rollback.end",
            uuid=vm(n),
            host=f"cmp-{n}",
            request_id=f"req-{n}",
        )


async def test_one_case_per_failed_migration(sqlite_url: str) -> None:
    """Every failure event type, duplicates and context events: exactly one post per failure."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    async with broker() as names:
        replica = await start_replica(
            sqlite_url, names, bot_settings(), poster, incidents, "r1"
        )
        nova = Nova(names)
        try:
            await nova.send(
                "compute_task.migrate_server.error", "req-a", instance_uuid=vm(1)
            )
            await nova.send(
                "instance.live_migration_rollback.end", uuid=vm(2), request_id="req-b"
            )
            # the same failure twice more (a duplicate publish) and its compute.exception
            await nova.send(
                "instance.live_migration_rollback.end", uuid=vm(2), request_id="req-b"
            )
            await nova.send("compute.exception", "req-b")
            await nova.send(
                "instance.live_migration_abort.end", uuid=vm(3), request_id="req-c"
            )
            await nova.send("instance.resize.error", uuid=vm(4), request_id="req-d")
            await nova.send("instance.rebuild.error", uuid=vm(5), request_id="req-e")
            await nova.send(
                "instance.live_migration_pre.start", uuid=vm(6)
            )  # context only
            await wait_for(lambda: replica.consumer.handled == 8)
            await wait_for(lambda: len(poster.posts) >= 5)

            async def all_posted() -> bool:
                return await replica.cases.intake.count_cases("posted") == 5

            await wait_for(all_posted)
            assert await replica.cases.intake.count_cases() == 5
            assert sorted(ref.server for _, ref, _, _ in poster.posts) == [
                vm(n) for n in range(1, 6)
            ]
            assert len(set(poster.case_ids())) == 5
            assert await replica.cases.intake.dead_letters() == []
        finally:
            nova.close()
            await replica.shutdown()


async def test_v1_messaging_driver_is_understood(sqlite_url: str) -> None:
    """The older ``messaging`` driver (no 2.0 envelope) is consumed the same way."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    async with broker() as names:
        replica = await start_replica(
            sqlite_url, names, bot_settings(), poster, incidents, "r1"
        )
        nova = Nova(names, driver="messaging")
        try:
            await nova.send("instance.resize.error", uuid=vm(7), request_id="req-v1")
            await wait_for(lambda: len(poster.posts) == 1)
            assert poster.posts[0][1].server == vm(7)
        finally:
            nova.close()
            await replica.shutdown()


async def test_malformed_message_is_dead_lettered_and_consumer_goes_on(
    sqlite_url: str,
) -> None:
    """A malformed body goes to the dead-letter queue with a reason; the next one is handled."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    async with broker() as names:
        replica = await start_replica(
            sqlite_url, names, bot_settings(), poster, incidents, "r1"
        )
        nova = Nova(names)
        try:
            connection = await aio_pika.connect(AMQP_URL)
            channel = await connection.channel()
            exchange = await channel.get_exchange(names.exchange)
            await exchange.publish(
                aio_pika.Message(
                    body=b'{"oslo.version": "2.0", "oslo.message": "{broken"}'
                ),
                routing_key=f"{names.topic}.error",
            )
            await nova.send("instance.resize.error", uuid=vm(8), request_id="req-ok")
            await wait_for(lambda: len(poster.posts) == 1)
            letters = await replica.cases.intake.dead_letters()
            assert len(letters) == 1
            assert letters[0][0] == "notification"
            assert "oslo.message is not a JSON string" in letters[0][1]
            dead = await channel.declare_queue(f"{names.queue}.dead", passive=True)
            message = await dead.get(timeout=5)
            assert message is not None
            assert message.body.startswith(b'{"oslo.version"')
            await message.ack()
            await connection.close()
        finally:
            nova.close()
            await replica.shutdown()


async def test_exchange_is_declared_as_nova_declares_it() -> None:
    """A missing exchange is declared as oslo.messaging would (topic, not durable), so a
    redeclaration by Nova is equivalent; a durable one refuses with the setting to change."""
    async with broker() as names:
        config = names.config("r1")
        absent = f"absent-{uuid.uuid4().hex}"
        consumer = NotificationConsumer(
            dataclasses.replace(config, exchange=absent),
            RecordingSink(),
            RecordingSink(),
        )
        await consumer.start()
        connection = await aio_pika.connect(AMQP_URL)
        try:
            channel = await connection.channel()
            # what oslo's notify_send declares with amqp_durable_queues=False: no conflict
            await channel.declare_exchange(
                absent, aio_pika.ExchangeType.TOPIC, durable=False, auto_delete=False
            )
            await consumer.stop(delete_queues=True)
            durable = dataclasses.replace(
                config, exchange=absent, exchange_durable=True
            )
            refused = NotificationConsumer(durable, RecordingSink(), RecordingSink())
            with pytest.raises(ConfigError, match="exchange_durable"):
                await refused.start()
            await refused.stop()
        finally:
            channel = await connection.channel()
            await channel.exchange_delete(absent)
            await connection.close()


class RecordingSink:
    async def submit(self, report: object) -> None:
        return None

    async def dead_letter(self, source: str, reason: str, body: bytes | str) -> None:
        return None


async def test_broker_restart_loses_nothing(sqlite_url: str) -> None:
    """The broker drops the connection: the consumer reconnects and every failure is posted once."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    async with broker() as names:
        replica = await start_replica(
            sqlite_url,
            names,
            bot_settings(),
            poster,
            incidents,
            f"r-{uuid.uuid4().hex[:6]}",
        )
        nova = Nova(names)
        try:
            await publish_failures(nova, 0, 5)
            await wait_for(lambda: replica.consumer.handled == 5)
            assert await asyncio.to_thread(
                close_connection_server_side, replica.consumer.config.connection_name
            )
            # published while the bot is disconnected: kept in its durable queue
            await publish_failures(nova, 5, 5)
            await wait_for(lambda: replica.consumer.reconnects >= 1, timeout=20)
            await wait_for(lambda: len(poster.posts) == 10, timeout=20)
            await publish_failures(nova, 10, 2)
            await wait_for(lambda: len(poster.posts) == 12)
            assert sorted(ref.server for _, ref, _, _ in poster.posts) == [
                vm(n) for n in range(12)
            ]
        finally:
            nova.close()
            await replica.shutdown()


async def test_killed_before_ack_is_redelivered_and_handled_once(
    sqlite_url: str,
) -> None:
    """A bot killed after storing but before acking: redelivered to the next one, posted once."""
    poster, incidents = RecordingPoster(), RecordingIncidents()
    async with broker() as names:
        first = await start_replica(
            sqlite_url, names, bot_settings(), poster, incidents, "r1"
        )
        stored = asyncio.Event()
        submit = first.cases.submit

        async def submit_then_die(report: object) -> object:
            await submit(report)  # type: ignore[arg-type]
            stored.set()
            await asyncio.Event().wait()  # the process is gone: it never gets to ack
            raise AssertionError("unreachable")

        first.consumer.sink = type(
            "Sink", (), {"submit": staticmethod(submit_then_die)}
        )()
        nova = Nova(names)
        try:
            await nova.send("instance.resize.error", uuid=vm(9), request_id="req-kill")
            await asyncio.wait_for(stored.wait(), 10)
            # the process dies: its connection goes away with the message unacked
            await asyncio.wait_for(first.shutdown(), 10)
            assert first.consumer.handled == 0
            second = await start_replica(
                sqlite_url, names, bot_settings(), poster, incidents, "r2"
            )
            await wait_for(lambda: second.consumer.handled == 1)
            await wait_for(lambda: len(poster.posts) == 1)
            assert await second.cases.intake.count_cases() == 1
            assert poster.posts[0][1].server == vm(9)
            await second.shutdown()
        finally:
            nova.close()


async def test_reconnect_backoff_starts_short_and_is_capped() -> None:
    """aio-pika retries once at once; then the interval grows with the outage, capped."""
    connection = BackoffConnection(
        URL(AMQP_URL), reconnect_min_s=0.1, reconnect_max_s=5.0
    )
    assert connection.reconnect_interval == 0.1
    now = connection.loop.time()
    connection._lost_at = now - 0.4
    assert 0.1 < connection.reconnect_interval < 0.5  # well under a second early on
    connection._lost_at = now - 600
    assert connection.reconnect_interval == 5.0
