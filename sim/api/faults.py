"""The HTTP side of injected outages (``sim.region.faults``): a middleware per app.

Each family answers a 500 with its own service's error body (clients parse them: the SDK
shows Nova's ``computeFault`` message, Neutron's ``NeutronError``, Placement's
``errors``), a 503 with what HAProxy sends when no backend is up, and a hang holds the
request until the fault changes or the region stops (then answers that 503), as a stuck
API server behind a load balancer does. Keystone's ``401`` refuses every password and
revokes the tokens already issued.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sim.api import keys, keystone
from sim.api.errors import cinder_error, json_response, neutron_error, placement_error
from sim.region.faults import Fault
from sim.region.state import RegionState


class Release:
    """Set when the faults change or the region stops: every hung request is let go."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def release(self) -> None:
        self.event.set()
        self.event = asyncio.Event()  # the next hang waits for the next change


RELEASE = web.AppKey("fault_release", Release)

_PREFIX_FAMILY = (
    ("/identity", "keystone"),
    ("/compute", "nova"),
    ("/placement", "placement"),
    ("/network", "neutron"),
    ("/volume", "cinder"),
)
# HAProxy's 503 page when every server of the backend is down
HAPROXY_503 = (
    "<html><body><h1>503 Service Unavailable</h1>\n"
    "No server is available to handle this request.\n</body></html>\n"
)
NOVA_500 = (
    "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and "
    "attach the Nova API log if possible.\n<class 'oslo_db.exception.DBConnectionError'>"
)
NEUTRON_500 = "Request Failed: internal server error while processing your request."
CINDER_500 = (
    "The server has either erred or is incapable of performing the requested operation."
)
KEYSTONE_500 = "An unexpected error prevented the server from fulfilling your request."
PLACEMENT_500 = "(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query')"
K8S_500 = "Internal error occurred: etcdserver: request timed out"


def family_of(path: str) -> str | None:
    for prefix, family in _PREFIX_FAMILY:
        if path == prefix or path.startswith(prefix + "/"):
            return family
    return None


def release_hung(app: web.Application) -> None:
    """Let every hung request go (they answer 503)."""
    app[RELEASE].release()


def _openstack_500(request: web.Request, family: str) -> web.StreamResponse:
    if family == "nova":
        body = {"computeFault": {"code": 500, "message": NOVA_500}}
        return json_response(request, body, status=500)
    if family == "placement":
        return placement_error(request, 500, PLACEMENT_500)
    if family == "neutron":
        return neutron_error(request, 500, "HTTPInternalServerError", NEUTRON_500)
    if family == "cinder":
        return cinder_error(request, 500, CINDER_500)
    body = {
        "error": {
            "code": 500,
            "title": "Internal Server Error",
            "message": KEYSTONE_500,
        }
    }
    return json_response(request, body, status=500)


def unavailable() -> web.Response:
    return web.Response(status=503, text=HAPROXY_503, content_type="text/html")


async def hang(app: web.Application) -> web.Response:
    await app[RELEASE].event.wait()
    return unavailable()


def _identity_fault(
    state: RegionState, request: web.Request
) -> web.StreamResponse | None:
    """Keystone's 401/revoke: tokens are used by every service, so every request counts."""
    fault = state.faults.get("keystone")
    if fault is None or fault.mode not in ("401", "revoke"):
        return None
    if not fault.tripped and not fault.applies(request.path):
        return None
    fault.tripped = True
    state.tokens.clear()
    if fault.mode == "revoke":
        del state.faults["keystone"]  # once: a new token is good again
        return None
    if family_of(request.path) == "keystone" and request.method == "POST":
        return keystone.unauthorized()
    return None


def openstack_fault_middleware() -> Middleware:
    """The outage of the family a request's path belongs to, if one is injected."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        state = request.app[keys.STATE]
        refused = _identity_fault(state, request)
        if refused is not None:
            return refused
        family = family_of(request.path)
        fault = state.faults.get(family) if family else None
        if fault is None or fault.mode in ("401", "revoke"):
            return await handler(request)
        if not fault.applies(request.path):
            return await handler(request)
        return await _answer(request, fault, family or "")

    return middleware


async def _answer(
    request: web.Request, fault: Fault, family: str
) -> web.StreamResponse:
    if fault.mode == "hang":
        return await hang(request.app)
    if fault.mode == "503":
        return unavailable()
    return _openstack_500(request, family)
