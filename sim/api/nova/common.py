"""Helpers shared by the Nova API modules: faults, microversion access, time formats."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sim.api import keys
from sim.api.microversion import Microversion
from sim.region.state import RegionState

FAULT_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
NOT_FOUND = "The resource could not be found."


def fault(status: int, message: str) -> web.Response:
    """Nova's error body: ``{"itemNotFound": {"code": 404, "message": "..."}}``."""
    key = FAULT_KEYS.get(status, "computeFault")
    return web.json_response({key: {"code": status, "message": message}}, status=status)


class NovaFault(Exception):
    """Raised inside a handler; the Nova middleware turns it into :func:`fault`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def version(request: web.Request) -> Microversion:
    """The negotiated microversion of this request."""
    return request[keys.MICROVERSION]


def at_least(request: web.Request, text: str) -> bool:
    """Whether the request was served at microversion ``text`` or newer."""
    return version(request).at_least(text)


def state_of(request: web.Request) -> RegionState:
    return request.app[keys.STATE]


def admin(request: web.Request) -> bool:
    auth = request.get(keys.AUTH)
    return bool(auth and "admin" in auth[2])


def require_admin(request: web.Request, rule: str) -> None:
    """Nova's policy refusal for an admin-only API."""
    if not admin(request):
        raise NovaFault(403, f"Policy doesn't allow {rule} to be performed.")


def caller_project(request: web.Request) -> str:
    auth = request.get(keys.AUTH)
    return auth[1] if auth else ""


def iso(value: datetime | None) -> str | None:
    """``2026-11-25T18:10:12.508240`` (naive UTC, microseconds) as Nova's DB times print."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(timespec="microseconds")


def iso_z(value: datetime | None) -> str | None:
    """``2026-11-25T18:10:12Z`` as the servers API prints created/updated."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: sha224 of project id + host (empty when no host)."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def compute_url(request: web.Request) -> str:
    return f"{request.url.origin()}/compute"


def parse_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on", "t", "y"}


def parse_time(value: str, field: str) -> datetime:
    """An ISO 8601 query parameter, or Nova's 400 message."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NovaFault(
            400,
            f"Invalid input for query parameters {field}. Value: {value}. "
            f"'{value}' is not a 'date-time'",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def json_body(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
