"""Nova's notification samples with ``$ref`` resolved (the sample's own keys win)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from tests import reference

SAMPLES = reference.NOVA_NOTIFICATION_SAMPLES


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return over


def _resolve(node: Any, here: Path) -> Any:
    if isinstance(node, list):
        return [_resolve(item, here) for item in node]
    if not isinstance(node, dict):
        return node
    local = {key: _resolve(value, here) for key, value in node.items() if key != "$ref"}
    if "$ref" not in node:
        return local
    target = (here / node["$ref"].split("#", 1)[0]).resolve()
    return _merge(_resolve(json.loads(target.read_text()), target.parent), local)


@cache
def _load(event_type: str) -> dict[str, Any]:
    path = SAMPLES / f"{event_type.replace('.', '-')}.json"
    return _resolve(json.loads(path.read_text()), path.parent)


def sample(event_type: str, **data: Any) -> dict[str, Any]:
    """The sample notification of ``event_type`` with ``data`` written into its payload."""
    note = copy.deepcopy(_load(event_type))
    note["payload"].setdefault("nova_object.data", {}).update(data)
    return note


def envelope(note: dict[str, Any], request_id: str | None = None) -> bytes:
    """oslo.messaging's v2 wire form of a notification."""
    message = {
        "message_id": "5f1f1b0e-0000-4000-8000-000000000000",
        "publisher_id": note["publisher_id"],
        "event_type": note["event_type"],
        "priority": note["priority"],
        "payload": note["payload"],
        "timestamp": "2026-08-21 10:00:00.123456",
    }
    if request_id:
        message["_context_request_id"] = request_id
    return json.dumps(
        {"oslo.version": "2.0", "oslo.message": json.dumps(message)}
    ).encode()
