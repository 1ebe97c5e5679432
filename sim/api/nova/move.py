"""POST /servers/{id}/action for os-migrateLive, migrate and evacuate.

Validation follows nova/api/openstack/compute/{migrate_server,evacuate}.py and
nova/compute/api.py: policy (403), instance state (409), unknown or same host (400),
evacuating from a host whose service is up (400). Below 2.34 a live migration's
conductor pre-checks are synchronous, so their errors come back as 400 too. Otherwise the
server's ``on_migrate`` outcome runs (``sim/region/moves.py``) and the API answers 202.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sim.api import keys
from sim.api.nova.common import NovaFault, admin, at_least, state_of
from sim.api.nova.servers import get_server
from sim.region.moves import MoveRunner
from sim.region.outcome import Placeholders
from sim.region.render import render_text
from sim.region.state import ServerRow, compute_service
from sim.scenario.model import Outcome

_ALLOWED_STATES = {
    "os-migrateLive": {"active", "paused"},
    "migrate": {"active", "stopped"},
    "evacuate": {"active", "stopped", "error"},
}
_POLICY = {
    "os-migrateLive": "os_compute_api:os-migrate-server:migrate_live",
    "migrate": "os_compute_api:os-migrate-server:migrate",
    "evacuate": "os_compute_api:os-evacuate",
}
_KIND = {
    "os-migrateLive": "live-migration",
    "migrate": "migration",
    "evacuate": "evacuation",
}
# what nova-compute emits for a move that goes through (nova/compute/manager.py:
# pre_live_migration on the destination, _post_live_migration on the source, then
# post_live_migration_at_destination; a cold move's prep/resize/finish stops at
# VERIFY_RESIZE, and resize_confirm.* comes only with the confirm)
_SUCCESS_NOTES = {
    "live-migration": [
        ("instance.live_migration_pre.start", "nova-compute:{dest}"),
        ("instance.live_migration_pre.end", "nova-compute:{dest}"),
        ("instance.live_migration_post.start", "nova-compute:{source}"),
        ("instance.live_migration_post.end", "nova-compute:{source}"),
        ("instance.live_migration_post_dest.start", "nova-compute:{dest}"),
        ("instance.live_migration_post_dest.end", "nova-compute:{dest}"),
    ],
    "migration": [
        ("instance.resize_prep.start", "nova-compute:{dest}"),
        ("instance.resize_prep.end", "nova-compute:{dest}"),
        ("instance.resize.start", "nova-compute:{source}"),
        ("instance.resize.end", "nova-compute:{source}"),
        ("instance.resize_finish.start", "nova-compute:{dest}"),
        ("instance.resize_finish.end", "nova-compute:{dest}"),
    ],
    "evacuation": [],
}
_SUCCESS = {
    "live-migration": {"status": "completed"},
    "migration": {
        "status": "finished",
        "server_status": "VERIFY_RESIZE",
        "vm_state": "resized",
    },
    "evacuation": {"status": "done"},
}


def _schema_error(action: str, value: Any, why: str) -> NovaFault:
    return NovaFault(
        400,
        f"Invalid input for field/attribute {action}. Value: {json.dumps(value)}. {why}",
    )


def _check_body(request: web.Request, action: str, body: Any) -> dict[str, Any]:
    """The action's arguments, validated like Nova's JSON schemas for this microversion."""
    if action == "migrate":
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise _schema_error(
                action, body, f"{json.dumps(body)} is not of type 'object', 'null'"
            )
        if "host" in body and not at_least(request, "2.56"):
            raise _schema_error(
                action,
                body,
                "Additional properties are not allowed ('host' was unexpected)",
            )
        return body
    if not isinstance(body, dict):
        raise _schema_error(action, body, f"{json.dumps(body)} is not of type 'object'")
    if action == "os-migrateLive":
        required = ["block_migration", "host"] if at_least(request, "2.25") else [
            "block_migration", "disk_over_commit", "host"]  # fmt: skip
        for key in required:
            if key not in body:
                raise _schema_error(action, body, f"'{key}' is a required property")
        allowed = (True, False, "auto") if at_least(request, "2.25") else (True, False)
        if body["block_migration"] not in allowed:
            raise _schema_error(
                action,
                body,
                f"{json.dumps(body['block_migration'])} is not one of {list(allowed)}",
            )
        if "force" in body and not (
            at_least(request, "2.30") and not at_least(request, "2.68")
        ):
            raise _schema_error(
                action,
                body,
                "Additional properties are not allowed ('force' was unexpected)",
            )
    if action == "evacuate":
        if not at_least(request, "2.14") and "onSharedStorage" not in body:
            raise _schema_error(
                action, body, "'onSharedStorage' is a required property"
            )
        if at_least(request, "2.14") and "onSharedStorage" in body:
            raise _schema_error(
                action,
                body,
                "Additional properties are not allowed ('onSharedStorage' was unexpected)",
            )
    return body


def _check_state(server: ServerRow, action: str, request: web.Request) -> None:
    if server["locked"] and not admin(request):
        raise NovaFault(409, f"Instance {server['id']} is locked")
    if server["vm_state"] not in _ALLOWED_STATES[action]:
        raise NovaFault(
            409,
            f"Cannot '{action}' instance {server['id']} while it is in vm_state {server['vm_state']}",
        )
    if server["task_state"] is not None:
        raise NovaFault(
            409,
            f"Cannot '{action}' instance {server['id']} while it is in task_state {server['task_state']}",
        )


def _outcome_for(server: ServerRow, kind: str, host: str | None) -> Outcome:
    """The scenario's on_migrate outcome, or a successful move when it does not apply."""
    planned: Outcome | None = server["spec"].on_migrate
    if (
        planned is not None
        and planned.kind == kind
        and (host is None or planned.dest in (None, host))
    ):
        return planned
    # no outcome for this kind, or the client chose another host than the one that fails
    fields = {
        "kind": kind,
        "dest": host,
        "at": "now",
        "duration_s": 2,
        **_SUCCESS[kind],
        "notifications": [
            {"event_type": event, "publisher": publisher}
            for event, publisher in _SUCCESS_NOTES[kind]
        ],
    }
    return Outcome.model_validate(fields)


def _first_error(outcome: Outcome, context: Placeholders) -> str:
    """The conductor's exception message, whole: the API shows it uncut (not the event's)."""
    for event in outcome.events:
        if event.result == "Error" and event.details:
            return render_text(event.details, context)
    message = (outcome.fault or {}).get("message") or "Migration pre-check error"
    return render_text(str(message), context)


async def server_action(request: web.Request) -> web.Response:
    """POST /servers/{id}/action."""
    state = state_of(request)
    try:
        payload = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise NovaFault(400, "Malformed request body") from None
    if not isinstance(payload, dict) or len(payload) != 1:
        raise NovaFault(400, "Malformed request body")
    action, body = next(iter(payload.items()))
    server = get_server(request, request.match_info["server_id"])
    if action not in _KIND:
        raise NovaFault(404, f"There is no such action: {action}")
    if not admin(request):
        raise NovaFault(403, f"Policy doesn't allow {_POLICY[action]} to be performed.")
    args = _check_body(request, action, body)
    _check_state(server, action, request)
    host = args.get("host")
    source = server["host"]
    if action == "evacuate":
        if source in state.scenario.hosts and (
            (service := compute_service(state, source)).state == "up"
            and not service.forced_down
        ):
            raise NovaFault(400, f"Compute service of {source} is still in use.")
        if host is not None and host not in state.scenario.hosts:
            raise NovaFault(404, f"Compute host {host} not found.")
        if host == source:
            raise NovaFault(400, "The target host can't be the same one.")
    elif host is not None:
        if host not in state.scenario.hosts:
            raise NovaFault(400, f"Compute host {host} could not be found.")
        if action == "migrate" and host == source:
            raise NovaFault(400, "Cannot migrate to the host where the server exists.")
    kind = _KIND[action]
    outcome = _outcome_for(server, kind, host)
    if outcome.api_error:
        # refused before any record exists: only the request's own names can be filled in
        names = {"server_id": server["id"], "server_name": server["name"],
                 "source": source, "dest": host or ""}  # fmt: skip
        raise NovaFault(
            int(outcome.api_error.get("code", 400)),
            render_text(str(outcome.api_error.get("message", "")), names),
        )
    if action == "os-migrateLive" and host == source:
        outcome = _to_self(server, host)
    runner: MoveRunner = request.app[keys.MOVE_RUNNER]
    synchronous_error = (
        action == "os-migrateLive"
        and not at_least(request, "2.34")
        and outcome.status == "error"
    )
    rename = (
        None
        if at_least(request, "2.34")
        else {"conductor_live_migrate_instance": "conductor_migrate_server"}
    )
    plan = runner.start(
        server["id"],
        outcome,
        request_id=request[keys.REQUEST_ID],
        dest=host,
        rename_events=rename,
    )
    if synchronous_error:
        await runner.wait_idle()
        raise NovaFault(400, _first_error(outcome, plan.context))
    if action == "evacuate" and not at_least(request, "2.14"):
        return web.json_response({"adminPass": "sim-evacuated-pass"})
    status = 200 if action == "evacuate" else 202
    return web.Response(status=status)


def _to_self(server: ServerRow, host: str) -> Outcome:
    """Nova's conductor refuses a live migration to the host the server is on."""
    message = f"Unable to migrate instance ({server['id']}) to current host ({host})."
    return Outcome.model_validate(
        {
            "kind": "live-migration",
            "dest": host,
            "status": "error",
            "message": "Error",
            "at": "now",
            "duration_s": 1,
            "events": [{"event": "conductor_live_migrate_instance", "result": "Error",
                        "details": message, "traceback": f"nova.exception.UnableToMigrateToSelf: {message}\n"}],
        }
    )  # fmt: skip


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/servers/{{server_id}}/action", server_action)
