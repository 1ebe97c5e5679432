"""Nova's versioned notifications, built from Nova's own samples, optionally sent to RabbitMQ.

The payload skeleton comes from ``shared/reference/nova/notification_samples`` with its
``$ref`` entries resolved from ``common_payloads`` (the sample's own keys win), then the
scenario's values (uuid, host, request id, exception, ...) are written into it. The
envelope is oslo.messaging's v2 wire form: ``{"oslo.version": "2.0", "oslo.message": "<json>"}``.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import aio_pika

from sim.region.render import render_text
from sim.region.state import ServerRow
from sim.scenario.model import Notification

log = logging.getLogger(__name__)

# vendored from Nova's doc/notification_samples (see sim/region/nova_samples/README.md)
SAMPLES_DIR = Path(__file__).resolve().parent / "nova_samples" / "notification_samples"
EXCHANGE = "nova"
TOPIC = "versioned_notifications"  # oslo.messaging's notifications topic


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return over


def _resolve(node: Any, here: Path) -> Any:
    """Resolve ``{"$ref": "File.json#", ...}`` recursively; local keys override."""
    if isinstance(node, list):
        return [_resolve(item, here) for item in node]
    if not isinstance(node, dict):
        return node
    resolved = {k: _resolve(v, here) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if ref is None:
        return resolved
    target = (here / ref.split("#", 1)[0]).resolve()
    base = _resolve(json.loads(target.read_text(encoding="utf-8")), target.parent)
    return _merge(base, resolved)


@cache
def _sample(name: str) -> dict[str, Any]:
    path = SAMPLES_DIR / f"{name}.json"
    sample: dict[str, Any] = _resolve(
        json.loads(path.read_text(encoding="utf-8")), path.parent
    )
    return sample


def sample_name(event_type: str) -> str:
    """``instance.live_migration_rollback.end`` -> ``instance-live_migration_rollback-end``."""
    return event_type.replace(".", "-")


def _fill(data: dict[str, Any], values: dict[str, Any]) -> None:
    """Overwrite the keys a payload has with the scenario's values, recursively."""
    for key, value in list(data.items()):
        if isinstance(value, dict) and "nova_object.data" in value:
            _fill(value["nova_object.data"], values)
        elif key in values:
            data[key] = values[key]


def build_notification(
    notification: Notification,
    context: dict[str, Any],
    server: ServerRow,
    at: datetime,
) -> dict[str, Any]:
    """The oslo.messaging v2 envelope of one versioned notification."""
    try:
        sample = copy.deepcopy(
            _sample(notification.sample or sample_name(notification.event_type))
        )
    except FileNotFoundError:
        sample = {"payload": {"nova_object.data": {}}}
    payload = sample.get("payload", {})
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    values: dict[str, Any] = {
        "uuid": server["id"],
        "instance_uuid": server["id"],
        "display_name": server["name"],
        "host_name": server["name"],
        "host": server["host"],
        "node": server["node"],
        "tenant_id": server["project_id"],
        "project_id": server["project_id"],
        "user_id": server["user_id"],
        "request_id": context.get("request_id"),
        "action_initiator_user": server["user_id"],
        "action_initiator_project": server["project_id"],
        "availability_zone": server["availability_zone"],
        "state": server["vm_state"],
        "task_state": server["task_state"],
        "locked": server["locked"],
        "updated_at": stamp,
    }
    if notification.exception:
        values.update(notification.exception)
        values.setdefault("traceback", "Traceback (most recent call last):\n")
    _fill(payload.get("nova_object.data", {}), values)
    if notification.exception and "fault" in payload.get("nova_object.data", {}):
        payload["nova_object.data"]["fault"] = {
            "nova_object.name": "ExceptionPayload",
            "nova_object.namespace": "nova",
            "nova_object.version": "1.1",
            "nova_object.data": dict(notification.exception),
        }
    message = {
        "message_id": str(uuid.uuid4()),
        "publisher_id": render_text(notification.publisher, context),
        "event_type": notification.event_type,
        "priority": notification.priority,
        "payload": payload,
        "timestamp": at.strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    return {"oslo.version": "2.0", "oslo.message": json.dumps(message)}


class AmqpPublisher:
    """Publishes envelopes to the ``nova`` topic exchange, as oslo.messaging's notifier does.

    ``exchange`` and ``topic`` default to Nova's; a test on the shared broker passes names
    of its own so no other region's notifications reach its consumer.
    """

    def __init__(self, url: str, exchange: str = EXCHANGE, topic: str = TOPIC) -> None:
        self.url = url
        self.exchange = exchange
        self.topic = topic
        self._connection: Any = None
        self._exchange: Any = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.url)
        channel = await self._connection.channel()
        self._exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=False
        )

    async def publish(self, priority: str, envelope: dict[str, Any]) -> None:
        if self._exchange is None:
            return
        body = json.dumps(envelope).encode()
        await self._exchange.publish(
            aio_pika.Message(body=body, content_type="application/json"),
            routing_key=f"{self.topic}.{priority.lower()}",
        )

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self._exchange = None
