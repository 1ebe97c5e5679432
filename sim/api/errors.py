"""Request ids, microversions and the error bodies of Placement, Neutron and Cinder.

Each OpenStack service wraps errors its own way, and clients (osc-placement,
openstacksdk, keystoneauth) read those wrappers, so each service module answers with
its real shape:

- Placement: ``{"errors": [{"status", "title", "detail", "request_id", "code"}]}``
- Neutron: ``{"NeutronError": {"type", "message", "detail"}}``
- Cinder: ``{"itemNotFound": {"message", "code"}}`` (key named after the fault)
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from aiohttp import web

REQUEST_ID_HEADER = "x-openstack-request-id"
_REQUEST_ID_KEY = web.RequestKey("sim_request_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_id(request: web.Request) -> str:
    """The ``req-<uuid>`` of this request (created once, reused by every layer)."""
    existing = request.get(_REQUEST_ID_KEY)
    if isinstance(existing, str):
        return existing
    rid = f"req-{uuid.uuid4()}"
    request[_REQUEST_ID_KEY] = rid
    return rid


def with_request_id(handler: Handler) -> Handler:
    """Wrap a handler so every response (success or error) carries the request id."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        rid = request_id(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.setdefault(REQUEST_ID_HEADER, rid)
            raise
        response.headers.setdefault(REQUEST_ID_HEADER, rid)
        return response

    return wrapped


def json_response(
    request: web.Request,
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A JSON response with the request id header set."""
    response = web.json_response(body, status=status, headers=headers or {})
    response.headers[REQUEST_ID_HEADER] = request_id(request)
    return response


def parse_microversion(
    request: web.Request,
    service: str,
    minimum: tuple[int, int],
    maximum: tuple[int, int],
) -> tuple[int, int] | None:
    """Read ``OpenStack-API-Version: <service> X.Y``; None if out of range or malformed.

    No header means the minimum (as every microversioned OpenStack service does);
    ``latest`` means the maximum.
    """
    raw = request.headers.get("OpenStack-API-Version", "")
    wanted = None
    for part in raw.split(","):
        words = part.strip().split()
        if len(words) == 2 and words[0].lower() == service:
            wanted = words[1]
    if wanted is None:
        return minimum
    if wanted == "latest":
        return maximum
    major, dot, minor = wanted.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        return None
    version = (int(major), int(minor))
    if not minimum <= version <= maximum:
        return None
    return version


def format_version(version: tuple[int, int]) -> str:
    """``(1, 39)`` -> ``"1.39"``."""
    return f"{version[0]}.{version[1]}"


# webob's explanation text, which Placement's JSON formatter puts before the detail
_WEBOB_EXPLANATION = {
    400: "The server could not comply with the request since it is either malformed "
    "or otherwise incorrect.",
    401: "This server could not verify that you are authorized to access the document "
    "you requested.",
    404: "The resource could not be found.",
    405: "The method specified is not allowed for this resource.",
    406: "The resource could not be generated that was acceptable to your browser "
    "(content of type application/json. ",
    409: "There was a conflict when trying to complete your request.",
}


def placement_error(
    request: web.Request,
    status: int,
    detail: str,
    code: str = "placement.undefined_code",
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """Placement's error body: webob explanation, blank line, the detail, two spaces."""
    explanation = _WEBOB_EXPLANATION.get(status, HTTPStatus(status).description)
    error: dict[str, Any] = {
        "status": status,
        "title": HTTPStatus(status).phrase,
        "detail": f"{explanation}\n\n {detail}  ",
        "request_id": request_id(request),
        "code": code,
    }
    error.update(extra or {})
    return json_response(request, {"errors": [error]}, status=status)


def neutron_error(
    request: web.Request, status: int, error_type: str, message: str
) -> web.Response:
    """Neutron's ``NeutronError`` body."""
    body = {"NeutronError": {"type": error_type, "message": message, "detail": ""}}
    return json_response(request, body, status=status)


_CINDER_FAULTS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
}


def cinder_error(request: web.Request, status: int, message: str) -> web.Response:
    """Cinder's fault body, keyed by the fault name (``itemNotFound`` for 404)."""
    fault = _CINDER_FAULTS.get(status, "computeFault")
    return json_response(
        request, {fault: {"message": message, "code": status}}, status=status
    )


def iso_z(at: datetime) -> str:
    """``2026-11-25T19:20:00Z`` as Neutron and Placement print times."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(at: datetime) -> str:
    """``2026-11-25T19:20:00.000000`` as Cinder (oslo) prints times."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def query_values(request: web.Request, key: str) -> list[str]:
    """All values of a repeated query parameter (``?id=a&id=b``)."""
    return request.query.getall(key, [])
