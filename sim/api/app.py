"""The OpenStack API app of a region: every service on one aiohttp app, no sockets.

Keystone (/identity), Nova (/compute), Placement (/placement), Neutron (/network) and
Cinder (/volume). Middlewares add a ``req-<uuid>`` request id to every response, an
optional latency, injected outages (``sim.api.faults``) and token checks.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sim.api import cinder, faults, keys, keystone, neutron
from sim.api.errors import placement_error, request_id
from sim.api.nova import routes as nova
from sim.api.placement import routes as placement
from sim.region.state import RegionState

# service documents clients read before they have a token (keystoneauth discovery)
_UNAUTHENTICATED = {
    "/compute", "/compute/", "/compute/v2.1", "/compute/v2.1/",
    "/placement", "/placement/", "/network", "/network/", "/volume", "/volume/",
    "/volume/v3", "/volume/v3/",
}  # fmt: skip
_SERVICE_PREFIXES = ("/compute", "/placement", "/network", "/volume")


@web.middleware
async def request_log_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Record ``METHOD /path`` of every request (``Region.requests``)."""
    request.app[keys.REQUEST_LOG].append(f"{request.method} {request.path}")
    return await handler(request)


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Every response carries ``x-openstack-request-id`` and ``x-compute-request-id``."""
    rid = request_id(request)
    request[keys.REQUEST_ID] = rid
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["x-openstack-request-id"] = rid
        exc.headers["x-compute-request-id"] = rid
        raise
    response.headers["x-openstack-request-id"] = rid
    response.headers["x-compute-request-id"] = rid
    return response


def latency_middleware(latency_ms: int) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        return await handler(request)

    return middleware


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Service APIs need a valid X-Auth-Token (keystonemiddleware's 401 otherwise)."""
    path = request.path
    if path.startswith(_SERVICE_PREFIXES) and path not in _UNAUTHENTICATED:
        info = keystone.token_info(
            request.app[keys.STATE], request.headers.get("X-Auth-Token")
        )
        if info is None:
            return keystone.unauthorized(f"{request.url.origin()}/identity")
        request[keys.AUTH] = info
        if path.startswith("/placement") and "admin" not in info[2]:
            # Placement's default policy is admin-only for every resource (rule:admin_api)
            return placement_error(
                request,
                403,
                f"Policy does not allow {_placement_rule(request)} to be performed.",
                code="placement.undefined_code",
            )
    return await handler(request)


def _placement_rule(request: web.Request) -> str:
    """The policy name Placement reports, e.g. placement:resource_providers:list."""
    parts = [p for p in request.path.removeprefix("/placement").split("/") if p]
    resource = parts[0] if parts else "root"
    return f"placement:{resource}:{'list' if len(parts) <= 1 else 'show'}"


def build_app(state: RegionState, latency_ms: int = 0) -> web.Application:
    """The OpenStack API app for a region state (no sockets)."""
    app = web.Application(
        middlewares=[
            request_log_middleware,
            request_id_middleware,
            latency_middleware(latency_ms),
            faults.openstack_fault_middleware(),
            auth_middleware,
            nova.nova_middleware,
        ]
    )
    app[keys.STATE] = state
    app[keys.REQUEST_LOG] = []
    app[faults.RELEASE] = faults.Release()
    keystone.add_routes(app, state)
    nova.add_routes(app, state)
    placement.add_routes(app, state)
    neutron.add_routes(app, state)
    cinder.add_routes(app, state)
    return app
