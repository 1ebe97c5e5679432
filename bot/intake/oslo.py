"""oslo.messaging notification envelopes → :class:`FailureReport` (or ``None`` when not a failure).

Wire format (oslo_messaging/_drivers/common.py): the ``messagingv2`` driver sends
``{"oslo.version": "2.0", "oslo.message": "<json string>"}``; the older ``messaging``
driver sends the inner dict bare. Both are accepted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.cases.report import FailureReport, MalformedEvent, ReportSource
from bot.times import parse_time, utcnow
from diagnostics.model import MigrationKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    event_type: str
    priority: str
    publisher_id: str
    payload: Mapping[str, Any]
    message_id: str | None
    timestamp: datetime | None
    request_id: str | None  # the flattened context's _context_request_id
    message: Mapping[str, Any]


def parse_envelope(body: bytes | str) -> Notification:
    """Decode one message body; raise :class:`MalformedEvent` with a reason."""
    try:
        outer = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(outer, dict):
        raise MalformedEvent("body is not a JSON object")
    message: Any = outer
    if "oslo.message" in outer:
        if outer.get("oslo.version") != "2.0":
            raise MalformedEvent(
                f"unsupported oslo.version {outer.get('oslo.version')!r}"
            )
        try:
            message = json.loads(outer["oslo.message"])
        except (TypeError, ValueError) as exc:
            raise MalformedEvent(f"oslo.message is not a JSON string: {exc}") from exc
        if not isinstance(message, dict):
            raise MalformedEvent("oslo.message is not a JSON object")
    event_type = message.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("notification has no event_type")
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise MalformedEvent(f"{event_type}: payload is not an object")
    request_id = message.get("_context_request_id")
    return Notification(
        event_type=event_type,
        priority=str(message.get("priority", "")).upper(),
        publisher_id=str(message.get("publisher_id", "")),
        payload=payload,
        message_id=message.get("message_id")
        if isinstance(message.get("message_id"), str)
        else None,
        timestamp=parse_time(message.get("timestamp")),
        request_id=request_id if isinstance(request_id, str) else None,
        message=message,
    )


def _data(obj: object) -> Mapping[str, Any]:
    """The fields of a versioned object (``nova_object.data``), or {} when absent."""
    if isinstance(obj, dict):
        data = obj.get("nova_object.data")
        if isinstance(data, dict):
            return data
    return {}


def _error_text(exc_payload: object) -> str | None:
    data = _data(exc_payload)
    if not data:
        return None
    name, text = data.get("exception"), data.get("exception_message")
    return f"{name}: {text}" if name and text else str(name or text or "") or None


def _publisher_host(publisher_id: str) -> str | None:
    """``nova-compute:cmp-a-01`` → ``cmp-a-01``."""
    _, sep, host = publisher_id.partition(":")
    return host or None if sep else None


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: MigrationKind | None
    status: str
    from_instance: bool  # InstanceActionPayload (uuid/host/fault) vs ComputeTaskPayload


# The failure event types of shared/slack.md §4.1. Anything else is context, not a failure.
FAILURE_EVENTS: dict[str, _Rule] = {
    # live or cold: the conductor cannot tell from the payload; the engine reads the record
    "compute_task.migrate_server.error": _Rule(None, "error", from_instance=False),
    "instance.live_migration_rollback.end": _Rule(MigrationKind.LIVE, "failed", True),
    "instance.live_migration_abort.end": _Rule(MigrationKind.LIVE, "cancelled", True),
    # cold migration reuses the resize path; the record says which
    "instance.resize.error": _Rule(None, "error", from_instance=True),
    "compute_task.rebuild_server.error": _Rule(
        MigrationKind.EVACUATION, "error", False
    ),
    "instance.rebuild.error": _Rule(
        MigrationKind.EVACUATION, "error", from_instance=True
    ),
}
EXCEPTION_EVENT = "compute.exception"


def to_report(
    note: Notification, *, now: Callable[[], datetime] = utcnow
) -> FailureReport | None:
    """Map a parsed notification to a report; ``None`` for event types that are not failures."""
    raw = dict(note.message)
    if note.event_type == EXCEPTION_EVENT:
        # ExceptionPayload only, no instance: useful only joined to a case by request id
        if not note.request_id:
            return None
        return FailureReport(
            source=ReportSource.NOTIFICATION,
            request_id=note.request_id,
            event_type=note.event_type,
            error=_error_text(note.payload),
            source_host=_publisher_host(note.publisher_id),
            received_at=now(),
            raw=raw,
        )
    rule = FAILURE_EVENTS.get(note.event_type)
    if rule is None:
        return None
    data = _data(note.payload)
    if not data:
        raise MalformedEvent(f"{note.event_type}: payload has no nova_object.data")
    if rule.from_instance:
        instance, error = data.get("uuid"), _error_text(data.get("fault"))
        host = data.get("host") or _publisher_host(note.publisher_id)
        request_id = data.get("request_id") or note.request_id
        az = data.get("availability_zone")
    else:
        instance, error = data.get("instance_uuid"), _error_text(data.get("reason"))
        host = None  # the publisher is a conductor, not the source compute
        request_id = note.request_id
        az = _data(data.get("request_spec")).get("availability_zone")
    if not isinstance(instance, str) or not instance:
        raise MalformedEvent(f"{note.event_type}: payload has no instance uuid")
    return FailureReport(
        source=ReportSource.NOTIFICATION,
        instance_uuid=instance,
        kind=rule.kind,
        status=rule.status,
        source_host=host if isinstance(host, str) else None,
        request_id=request_id if isinstance(request_id, str) else None,
        event_type=note.event_type,
        error=error,
        availability_zone=az if isinstance(az, str) else None,
        occurred_at=note.timestamp,
        received_at=now(),
        raw=raw,
    )


def report_from_body(body: bytes | str) -> FailureReport | None:
    """Parse and map in one step (raises :class:`MalformedEvent`)."""
    return to_report(parse_envelope(body))
