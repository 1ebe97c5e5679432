"""Abort (DELETE, 2.24) and force-complete (POST .../action, 2.22) of a live migration.

As nova/api/openstack/compute/server_migrations.py and nova/compute/api.py check them,
in their order: the microversion (404 below it), the body (force_complete's schema:
``{"force_complete": null}``), the server (404), the policy (403, admin by default), the
instance state (409, Nova's ``raise_http_conflict_for_instance_invalid_state`` text), the
migration (abort: 404, force complete: 400), its status (400 InvalidMigrationState:
abort needs ``running``, or ``queued``/``preparing`` from 2.65; force complete
``running``). Then 202, and the source compute acts later (sim/region/live_actions.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from sim.api import keys
from sim.api.nova.common import NOT_FOUND, NovaFault, at_least, require_admin, state_of
from sim.api.nova.servers import get_server
from sim.region import live_actions
from sim.region.moves import MoveRunner
from sim.region.state import (
    ActionRow,
    MigrationRow,
    NotificationRecord,
    RegionState,
    ServerRow,
)

_POLICY = "os_compute_api:servers:migrations:{}"


def _state_conflict(server: ServerRow, action: str, attr: str) -> NovaFault:
    state = server["vm_state"] if attr == "vm_state" else server["task_state"]
    return NovaFault(
        409,
        f"Cannot '{action}' instance {server['id']} while it is in {attr} {state}",
    )


def _migration(state: RegionState, server: ServerRow, mid: str) -> MigrationRow | None:
    """``Migration.get_by_id_and_instance``: by id and instance, whatever its type."""
    return next(
        (m for m in state.migrations
         if str(m.id) == mid and m.instance_uuid == server["id"]),
        None,
    )  # fmt: skip


def _invalid_state(m: MigrationRow, server: ServerRow, method: str) -> NovaFault:
    return NovaFault(
        400,
        f"Migration {m.id} state of instance {server['id']} is {m.status}. "
        f"Cannot {method} while the migration is in this state.",
    )


Act = Callable[
    [RegionState, MigrationRow, ActionRow, datetime], list[NotificationRecord]
]


def _accept(
    request: web.Request,
    server: ServerRow,
    m: MigrationRow,
    name: str,
    act: Act,
) -> web.Response:
    """Record the instance action now; the compute's part runs after the 202."""
    state = state_of(request)
    action = live_actions.record_action(
        state, server, name, request[keys.REQUEST_ID], datetime.now(UTC)
    )
    runner: MoveRunner = request.app[keys.MOVE_RUNNER]
    runner.later(lambda now: act(state, m, action, now))
    return web.Response(status=202)


async def abort_migration(request: web.Request) -> web.Response:
    """DELETE /servers/{id}/migrations/{mid}: abort an in-progress live migration."""
    if not at_least(request, "2.24"):
        raise NovaFault(404, NOT_FOUND)
    server = get_server(request, request.match_info["server_id"])
    require_admin(request, _POLICY.format("delete"))
    if server["task_state"] != "migrating":
        raise _state_conflict(server, "abort live migration", "task_state")
    mid = request.match_info["migration_id"]
    m = _migration(state_of(request), server, mid)
    if m is None:
        raise NovaFault(404, f"Migration {mid} not found for instance {server['id']}")
    allowed = {"running"} | (
        {"queued", "preparing"} if at_least(request, "2.65") else set()
    )
    if m.status not in allowed:
        raise _invalid_state(m, server, "abort live migration")
    return _accept(request, server, m, live_actions.ABORT_ACTION, live_actions.abort)


async def migration_action(request: web.Request) -> web.Response:
    """POST /servers/{id}/migrations/{mid}/action: ``force_complete`` only."""
    if not at_least(request, "2.22"):
        raise NovaFault(404, NOT_FOUND)
    try:
        payload = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise NovaFault(400, "Malformed request body") from None
    if not isinstance(payload, dict) or len(payload) != 1:
        raise NovaFault(400, "Malformed request body")
    action, body = next(iter(payload.items()))
    if action != "force_complete":
        raise NovaFault(404, f"There is no such action: {action}")
    if body is not None:
        shown = json.dumps(body)
        raise NovaFault(
            400,
            f"Invalid input for field/attribute force_complete. Value: {shown}. "
            f"{shown} is not of type 'null'",
        )
    server = get_server(request, request.match_info["server_id"])
    require_admin(request, _POLICY.format("force_complete"))
    if server["vm_state"] != "active":
        raise _state_conflict(server, "force_complete", "vm_state")
    if server["task_state"] != "migrating":
        raise _state_conflict(server, "force_complete", "task_state")
    mid = request.match_info["migration_id"]
    m = _migration(state_of(request), server, mid)
    if m is None:  # force_complete maps MigrationNotFoundForInstance to 400
        raise NovaFault(400, f"Migration {mid} not found for instance {server['id']}")
    if m.status != "running":
        raise _invalid_state(m, server, "force complete")
    return _accept(
        request,
        server,
        m,
        live_actions.FORCE_COMPLETE_ACTION,
        live_actions.force_complete,
    )


def add_routes(app: web.Application, prefix: str) -> None:
    path = f"{prefix}/servers/{{server_id}}/migrations/{{migration_id}}"
    app.router.add_delete(path, abort_migration)
    app.router.add_post(f"{path}/action", migration_action)
