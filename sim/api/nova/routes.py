"""Nova (compute API v2.1) under /compute: version documents, microversions, faults, routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sim.api import keys
from sim.api.microversion import (
    MIN_VERSION,
    VersionError,
    negotiate,
    requested_version,
    response_headers,
)
from sim.api.nova import actions as nova_actions
from sim.api.nova import admin as nova_admin
from sim.api.nova import migration_actions as nova_migration_actions
from sim.api.nova import migrations as nova_migrations
from sim.api.nova import move as nova_move
from sim.api.nova import servers as nova_servers
from sim.api.nova import updates as nova_updates
from sim.api.nova.common import NOT_FOUND, NovaFault, fault
from sim.region.moves import MoveRunner
from sim.region.state import RegionState

PREFIX = "/compute"
API = f"{PREFIX}/v2.1"
_UPDATED = "2013-07-23T11:33:21Z"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _max(request: web.Request) -> str:
    state: RegionState = request.app[keys.STATE]
    return state.scenario.microversion_max


def _v21(request: web.Request) -> dict[str, object]:
    origin = request.url.origin()
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": _max(request),
        "min_version": MIN_VERSION,
        "updated": _UPDATED,
        "links": [{"rel": "self", "href": f"{origin}{API}/"}],
    }


async def versions(request: web.Request) -> web.Response:
    """GET /compute/: the versions Nova serves (v2.0 legacy and v2.1)."""
    origin = request.url.origin()
    v20 = {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
           "updated": "2011-01-21T11:33:21Z",
           "links": [{"rel": "self", "href": f"{origin}{PREFIX}/v2/"}]}  # fmt: skip
    return web.json_response({"versions": [v20, _v21(request)]})


async def version_v21(request: web.Request) -> web.Response:
    """GET /compute/v2.1: the v2.1 version document with media types."""
    doc: dict[str, Any] = _v21(request)
    doc["links"] = [
        *doc["links"],
        {
            "rel": "describedby",
            "type": "text/html",
            "href": "http://docs.openstack.org/",
        },
    ]
    doc["media-types"] = [
        {
            "base": "application/json",
            "type": "application/vnd.openstack.compute+json;version=2.1",
        }
    ]
    return web.json_response({"version": doc})


@web.middleware
async def nova_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Negotiate the microversion and render Nova's fault bodies for /compute requests."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        version = negotiate(requested_version(request.headers), _max(request))
    except VersionError as exc:
        return fault(exc.status, exc.message)
    request[keys.MICROVERSION] = version
    try:
        response = await handler(request)
    except NovaFault as exc:
        response = fault(exc.status, exc.message)
    except web.HTTPNotFound:
        response = fault(404, NOT_FOUND)
    except web.HTTPMethodNotAllowed:
        response = fault(405, "The method specified is not allowed for this resource.")
    response.headers.update(response_headers(version))
    return response


def add_routes(app: web.Application, state: RegionState) -> None:
    """Mount Nova; the app must also carry ``nova_middleware`` (region.py adds it)."""
    app[keys.MOVE_RUNNER] = MoveRunner(state)
    r = app.router
    r.add_get(PREFIX, versions)
    r.add_get(f"{PREFIX}/", versions)
    r.add_get(API, version_v21)
    r.add_get(f"{API}/", version_v21)
    modules = (nova_servers, nova_migrations, nova_migration_actions, nova_actions,
               nova_admin, nova_move, nova_updates)  # fmt: skip
    for module in modules:
        module.add_routes(app, API)
