"""Keystone v3: version documents, password auth with project scope, the service catalog.

Users: ``admin`` (role admin on every project) and ``demo`` (role member on ``demo``),
enough to show admin-only fields (tracebacks, hosts) disappearing for a member.
Other services validate the ``X-Auth-Token`` through :func:`token_info`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sim.api import keys
from sim.region import identity
from sim.region.state import RegionState, stable_uuid

UNAUTHORIZED_MESSAGE = "The request you have made requires authentication."
_UPDATED = "2024-04-04T00:00:00Z"


def _users(state: RegionState) -> dict[str, dict[str, Any]]:
    """Known users: name -> password, roles per project name (None = every project)."""
    return {
        identity.ADMIN_USER: {
            "password": identity.ADMIN_PASSWORD,
            "role": "admin",
            "projects": None,
        },
        identity.MEMBER_USER: {
            "password": identity.MEMBER_PASSWORD,
            "role": "member",
            "projects": {identity.MEMBER_PROJECT},
        },
        identity.SERVICE_USER: {
            "password": identity.SERVICE_PASSWORD,
            "role": "service",
            "projects": {identity.SERVICE_PROJECT},
        },
    }


_ROLES = {
    "admin": ("admin", "member", "reader"),
    "service": ("admin", "service", "member", "reader"),
    "member": ("member", "reader"),
}
_HOME_PROJECT = {
    identity.ADMIN_USER: identity.ADMIN_PROJECT,
    identity.SERVICE_USER: identity.SERVICE_PROJECT,
}


def unauthorized(realm: str = "") -> web.Response:
    """Keystone's (and keystonemiddleware's) 401 body."""
    headers = {"WWW-Authenticate": f'Keystone uri="{realm}"'} if realm else {}
    return web.json_response(
        {
            "error": {
                "code": 401,
                "title": "Unauthorized",
                "message": UNAUTHORIZED_MESSAGE,
            }
        },
        status=401,
        headers=headers,
    )


def token_info(
    state: RegionState, token: str | None
) -> tuple[str, str, tuple[str, ...]] | None:
    """(user name, project id, roles) of a valid token, else None."""
    if not token:
        return None
    return state.tokens.get(token)


def is_admin(request: web.Request) -> bool:
    """Whether the request's token carries the admin role."""
    auth = request.get(keys.AUTH)
    return bool(auth and "admin" in auth[2])


def _version_v3(origin: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": _UPDATED,
        "links": [{"rel": "self", "href": f"{origin}/identity/v3/"}],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.identity-v3+json",
            }
        ],
    }


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


async def versions(request: web.Request) -> web.Response:
    """GET /identity: the multiple-choice document keystoneauth discovers from."""
    body = {"versions": {"values": [_version_v3(_origin(request))]}}
    return web.json_response(body, status=300)


async def version_v3(request: web.Request) -> web.Response:
    """GET /identity/v3."""
    return web.json_response({"version": _version_v3(_origin(request))})


def catalog(state: RegionState, origin: str, project_id: str) -> list[dict[str, Any]]:
    """The service catalog: compute, placement, network, volumev3, identity."""
    services = [
        ("compute", "nova", f"{origin}/compute/v2.1"),
        ("placement", "placement", f"{origin}/placement"),
        ("network", "neutron", f"{origin}/network"),
        ("volumev3", "cinderv3", f"{origin}/volume/v3/{project_id}"),
        ("block-storage", "cinder", f"{origin}/volume/v3/{project_id}"),
        ("identity", "keystone", f"{origin}/identity"),
    ]
    region = state.scenario.region
    entries = []
    for kind, name, url in services:
        endpoints = [
            {
                "id": stable_uuid(state.scenario.name, "endpoint", kind, iface),
                "interface": iface,
                "region_id": region,
                "region": region,
                "url": url,
            }
            for iface in ("public", "internal", "admin")
        ]
        entries.append(
            {
                "endpoints": endpoints,
                "id": stable_uuid(state.scenario.name, "service", kind),
                "type": kind,
                "name": name,
            }
        )
    return entries


def _scope(body: dict[str, Any]) -> tuple[str, str, str] | None:
    """(user, password, project name) from a password + project-scope auth body."""
    try:
        auth = body["auth"]
        user = auth["identity"]["password"]["user"]
        project = auth.get("scope", {}).get("project", {})
        return str(user["name"]), str(user["password"]), str(project.get("name") or "")
    except (KeyError, TypeError):
        return None


async def issue_token(request: web.Request) -> web.Response:
    """POST /identity/v3/auth/tokens: password auth, project scope, 201 + X-Subject-Token."""
    state: RegionState = request.app[keys.STATE]
    try:
        body = await request.json()
    except ValueError:
        body = None
    scope = _scope(body) if isinstance(body, dict) else None
    if scope is None:
        return web.json_response(
            {"error": {"code": 400, "title": "Bad Request",
                       "message": "Invalid input for field 'identity': 'password' is a required property"}},
            status=400,
        )  # fmt: skip
    user, password, project = scope
    known = _users(state).get(user)
    project = project or _HOME_PROJECT.get(user, identity.MEMBER_PROJECT)
    if (
        known is None
        or not secrets.compare_digest(known["password"], password)
        or (known["projects"] is not None and project not in known["projects"])
    ):
        return unauthorized()
    scenario = state.scenario
    project_id = identity.project_id(scenario, project)
    roles = _ROLES[known["role"]]
    token = "gAAAAA" + secrets.token_urlsafe(96)
    state.tokens[token] = (user, project_id, roles)
    issued = datetime.now(UTC)
    stamp = "%Y-%m-%dT%H:%M:%S.000000Z"
    domain = {"id": "default", "name": "Default"}
    payload = {
        "token": {
            "methods": ["password"],
            "user": {
                "domain": domain,
                "id": identity.user_id(scenario, user),
                "name": user,
                "password_expires_at": None,
            },
            "audit_ids": [uuid.uuid4().hex[:22]],
            "expires_at": (issued + timedelta(hours=12)).strftime(stamp),
            "issued_at": issued.strftime(stamp),
            "project": {"domain": domain, "id": project_id, "name": project},
            "is_domain": False,
            "roles": [
                {"id": stable_uuid("role", r).replace("-", ""), "name": r}
                for r in roles
            ],
            "catalog": catalog(state, _origin(request), project_id),
        }
    }
    return web.json_response(payload, status=201, headers={"X-Subject-Token": token})


async def validate_token(request: web.Request) -> web.Response:
    """GET /identity/v3/auth/tokens: 200 when X-Subject-Token is valid, 404 otherwise."""
    state: RegionState = request.app[keys.STATE]
    info = token_info(state, request.headers.get("X-Subject-Token"))
    if info is None:
        return web.json_response(
            {"error": {"code": 404, "title": "Not Found",
                       "message": "Could not find token."}},
            status=404,
        )  # fmt: skip
    user, project_id, roles = info
    body = {
        "token": {
            "user": {"id": identity.user_id(state.scenario, user), "name": user},
            "project": {"id": project_id},
            "roles": [{"name": r} for r in roles],
        }
    }
    return web.json_response(body)


def add_routes(app: web.Application, state: RegionState) -> None:
    """Mount Keystone under /identity."""
    app.router.add_get("/identity", versions)
    app.router.add_get("/identity/", versions)
    app.router.add_get("/identity/v3", version_v3)
    app.router.add_get("/identity/v3/", version_v3)
    app.router.add_post("/identity/v3/auth/tokens", issue_token)
    app.router.add_get("/identity/v3/auth/tokens", validate_token)
