"""os-migrations and /servers/{id}/migrations, with Nova's filters, paging and fields.

Fields per microversion (nova/api/openstack/compute/migrations.py): migration_type and
links (in-progress live migrations) from 2.23, uuid and paging from 2.59, changes-before
from 2.66, user_id/project_id from 2.80.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sim.api.nova.common import (
    NovaFault,
    at_least,
    compute_url,
    iso,
    json_body,
    parse_time,
    require_admin,
    state_of,
)
from sim.api.nova.fields import OMIT, Field, render
from sim.api.nova.servers import get_server
from sim.region.state import MigrationRow

IN_PROGRESS = {"queued", "preparing", "running", "post-migrating"}
_MAX_LIMIT = 1000


def in_progress_live(m: MigrationRow) -> bool:
    return m.migration_type == "live-migration" and m.status in IN_PROGRESS


@dataclass(frozen=True, slots=True)
class _Shown:
    request: web.Request
    m: MigrationRow


def _links(r: _Shown) -> list[dict[str, str]] | object:
    if not in_progress_live(r.m):
        return OMIT  # only an in-progress live migration links to its own resource
    base = compute_url(r.request)
    path = f"servers/{r.m.instance_uuid}/migrations/{r.m.id}"
    return [
        {"href": f"{base}/v2.1/{path}", "rel": "self"},
        {"href": f"{base}/{path}", "rel": "bookmark"},
    ]


_OWNER_FIELDS: tuple[Field[_Shown], ...] = (
    Field("uuid", lambda r: r.m.uuid, since="2.59"),
    Field("user_id", lambda r: r.m.user_id, since="2.80"),
    Field("project_id", lambda r: r.m.project_id, since="2.80"),
)

MIGRATION_FIELDS: tuple[Field[_Shown], ...] = (
    Field("created_at", lambda r: iso(r.m.created_at)),
    Field("dest_compute", lambda r: r.m.dest_compute),
    Field("dest_host", lambda r: r.m.dest_host),
    Field("dest_node", lambda r: r.m.dest_node),
    Field("id", lambda r: r.m.id),
    Field("instance_uuid", lambda r: r.m.instance_uuid),
    Field("new_instance_type_id", lambda r: r.m.new_instance_type_id),
    Field("old_instance_type_id", lambda r: r.m.old_instance_type_id),
    Field("source_compute", lambda r: r.m.source_compute),
    Field("source_node", lambda r: r.m.source_node),
    Field("status", lambda r: r.m.status),
    Field("updated_at", lambda r: iso(r.m.updated_at)),
    Field("migration_type", lambda r: r.m.migration_type, since="2.23"),
    Field("links", _links, since="2.23"),
    *_OWNER_FIELDS,
)


def migration_view(request: web.Request, m: MigrationRow) -> dict[str, Any]:
    """One row of GET /os-migrations at the request's microversion."""
    return render(MIGRATION_FIELDS, _Shown(request, m), request)


def _filtered(request: web.Request) -> list[MigrationRow]:
    query = request.query
    rows = [m for m in state_of(request).migrations if not m.hidden]
    exact = {"instance_uuid": "instance_uuid", "status": "status", "migration_type": "migration_type",
             "source_compute": "source_compute"}  # fmt: skip
    if at_least(request, "2.80"):
        exact |= {"user_id": "user_id", "project_id": "project_id"}
    for key, attr in exact.items():
        if key in query:
            rows = [m for m in rows if str(getattr(m, attr)) == query[key]]
    if "host" in query:
        rows = [m for m in rows if query["host"] in (m.source_compute, m.dest_compute)]
    since = before = None
    if at_least(request, "2.59") and "changes-since" in query:
        since = parse_time(query["changes-since"], "changes-since")
        rows = [m for m in rows if (m.updated_at or m.created_at) >= since]
    if at_least(request, "2.66") and "changes-before" in query:
        before = parse_time(query["changes-before"], "changes-before")
        rows = [m for m in rows if (m.updated_at or m.created_at) <= before]
    if since and before and since > before:
        raise NovaFault(
            400,
            "The value of changes-since must be less than or equal to changes-before.",
        )
    if at_least(request, "2.59"):
        return sorted(rows, key=lambda m: (m.created_at, m.id), reverse=True)
    return sorted(rows, key=lambda m: m.id)


def _page(
    request: web.Request, rows: list[MigrationRow]
) -> tuple[list[MigrationRow], bool]:
    """Apply marker/limit (2.59+); the bool says whether a next link is due."""
    query = request.query
    if "marker" in query:
        marker = query["marker"]
        index = next((i for i, m in enumerate(rows) if m.uuid == marker), None)
        if index is None:
            raise NovaFault(400, f"Marker {marker} could not be found.")
        rows = rows[index + 1 :]
    if "limit" not in query:
        return rows, False
    try:
        limit = int(query["limit"])
        if limit < 0:
            raise ValueError
    except ValueError:
        raise NovaFault(
            400,
            f"Invalid input for query parameters limit. Value: {query['limit']}. "
            f"'{query['limit']}' does not match '^[0-9]*$'",
        ) from None
    limit = min(limit, _MAX_LIMIT)
    return rows[:limit], len(rows) >= limit and limit > 0


async def list_migrations(request: web.Request) -> web.Response:
    """GET /os-migrations (admin only)."""
    require_admin(request, "os_compute_api:os-migrations:index")
    rows = _filtered(request)
    more = False
    if at_least(request, "2.59"):
        rows, more = _page(request, rows)
    body: dict[str, Any] = {"migrations": [migration_view(request, m) for m in rows]}
    if more and rows:
        params = {k: v for k, v in request.query.items() if k != "marker"}
        params["marker"] = rows[-1].uuid
        href = f"{compute_url(request)}/v2.1/os-migrations?{urlencode(params)}"
        body["migrations_links"] = [{"href": href, "rel": "next"}]
    return json_body(body)


SERVER_MIGRATION_FIELDS: tuple[Field[_Shown], ...] = (
    Field("created_at", lambda r: iso(r.m.created_at)),
    Field("dest_compute", lambda r: r.m.dest_compute),
    Field("dest_host", lambda r: r.m.dest_host),
    Field("dest_node", lambda r: r.m.dest_node),
    Field(
        "disk_processed_bytes", lambda r: r.m.progress.get("disk_processed_bytes", 0)
    ),
    Field(
        "disk_remaining_bytes", lambda r: r.m.progress.get("disk_remaining_bytes", 0)
    ),
    Field("disk_total_bytes", lambda r: r.m.progress.get("disk_total_bytes", 0)),
    Field("id", lambda r: r.m.id),
    Field(
        "memory_processed_bytes",
        lambda r: r.m.progress.get("memory_processed_bytes", 0),
    ),
    Field(
        "memory_remaining_bytes",
        lambda r: r.m.progress.get("memory_remaining_bytes", 0),
    ),
    Field("memory_total_bytes", lambda r: r.m.progress.get("memory_total_bytes", 0)),
    Field("server_uuid", lambda r: r.m.instance_uuid),
    Field("source_compute", lambda r: r.m.source_compute),
    Field("source_node", lambda r: r.m.source_node),
    Field("status", lambda r: r.m.status),
    Field("updated_at", lambda r: iso(r.m.updated_at)),
    *_OWNER_FIELDS,
)


def server_migration_view(request: web.Request, m: MigrationRow) -> dict[str, Any]:
    """One in-progress live migration under /servers/{id}/migrations."""
    return render(SERVER_MIGRATION_FIELDS, _Shown(request, m), request)


def _require_2_23(request: web.Request) -> None:
    if not at_least(request, "2.23"):
        raise NovaFault(404, "The resource could not be found.")


async def list_server_migrations(request: web.Request) -> web.Response:
    """GET /servers/{id}/migrations: in-progress live migrations only."""
    _require_2_23(request)
    require_admin(request, "os_compute_api:servers:migrations:index")
    server = get_server(request, request.match_info["server_id"])
    rows = [
        m for m in state_of(request).migrations
        if m.instance_uuid == server["id"] and in_progress_live(m)
    ]  # fmt: skip
    return json_body({"migrations": [server_migration_view(request, m) for m in rows]})


async def show_server_migration(request: web.Request) -> web.Response:
    """GET /servers/{id}/migrations/{mid}: 404 unless it is an in-progress live migration."""
    _require_2_23(request)
    require_admin(request, "os_compute_api:servers:migrations:show")
    server = get_server(request, request.match_info["server_id"])
    mid = request.match_info["migration_id"]
    row = next(
        (m for m in state_of(request).migrations
         if str(m.id) == mid and m.instance_uuid == server["id"]),
        None,
    )  # fmt: skip
    # nova/api/openstack/compute/server_migrations.py show(): three distinct 404s
    if row is None:
        raise NovaFault(
            404,
            f"In-progress live migration {mid} is not found for server {server['id']}.",
        )
    if row.migration_type != "live-migration":
        raise NovaFault(
            404, f"Migration {mid} for server {server['id']} is not live-migration."
        )
    if not in_progress_live(row):
        raise NovaFault(
            404, f"Live migration {mid} for server {server['id']} is not in progress."
        )
    return json_body({"migration": server_migration_view(request, row)})


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/os-migrations", list_migrations)
    r.add_get(f"{prefix}/servers/{{server_id}}/migrations", list_server_migrations)
    r.add_get(
        f"{prefix}/servers/{{server_id}}/migrations/{{migration_id}}",
        show_server_migration,
    )
