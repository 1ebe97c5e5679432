"""The admin writes a remediation suggests: compute service set, aggregate add host.

As nova/api/openstack/compute/services.py (``update``: below 2.53 ``PUT
/os-services/{enable,disable,disable-log-reason,force-down}`` naming host and binary in
the body, force-down from 2.11; from 2.53 ``PUT /os-services/{uuid}`` with ``status``,
``disabled_reason``, ``forced_down``, nova-compute only) and aggregates.py ``_add_host``
(200 with the aggregate; 404 unknown aggregate or host, 409 host already there).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from sim.api.nova.admin import aggregate_view, aggregates, service_view, services
from sim.api.nova.common import (
    NovaFault,
    at_least,
    json_body,
    require_admin,
    state_of,
)
from sim.region.state import RegionState, compute_service

_STATUS = ("enabled", "disabled")
_V253_KEYS = ("status", "disabled_reason", "forced_down")
# oslo_utils.strutils.bool_from_string(strict=True) accepts these spellings
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise NovaFault(400, "Malformed request body") from None
    if not isinstance(body, dict):
        raise NovaFault(400, "Malformed request body")
    return body


def _invalid(field: str, value: Any, why: str) -> NovaFault:
    shown = json.dumps(value)
    return NovaFault(
        400, f"Invalid input for field/attribute {field}. Value: {shown}. {why}"
    )


def _as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _invalid(field, value, f"{json.dumps(value)} is not of type 'boolean'")


def _check_evacuations(state: RegionState, host: str) -> None:
    """Nova refuses to force a host up while ``done`` evacuations from it remain."""
    if any(
        m.source_compute == host
        and m.migration_type == "evacuation"
        and m.status == "done"
        for m in state.migrations
    ):
        raise NovaFault(
            400,
            f"Unable to force up host {host} as `done` evacuation migration records "
            "remain associated with the host. Ensure the compute service has been "
            "restarted, allowing these records to move to `completed` before "
            "retrying this request.",
        )


def _set(state: RegionState, host: str, **changes: Any) -> None:
    current = compute_service(state, host)
    state.compute_services[host] = current.model_copy(update=changes)


def _row(state: RegionState, host: str, binary: str) -> dict[str, Any]:
    for row in services(state):
        if row["host"] == host and row["binary"] == binary:
            return row
    raise NovaFault(404, f"Could not find binary {binary} on host {host}.")


def _only_compute(binary: str) -> None:
    if binary != "nova-compute":
        raise NovaFault(
            400,
            f"Updating a {binary} service is not supported. "
            "Only nova-compute services can be updated.",
        )


def _update_v21(
    request: web.Request, action: str, body: dict[str, Any]
) -> web.Response:
    actions = ["enable", "disable", "disable-log-reason"]
    if at_least(request, "2.11"):
        actions.append("force-down")
    if action not in actions:
        raise NovaFault(404, "Unknown action")
    for key in ("host", "binary"):
        if key not in body:
            raise _invalid(action, body, f"'{key}' is a required property")
    host, binary = str(body["host"]), str(body["binary"])
    state = state_of(request)
    reply: dict[str, Any] = {"host": host, "binary": binary}
    if action == "force-down":
        if "forced_down" not in body:
            raise NovaFault(400, "Missing forced_down field")
        forced = _as_bool(body["forced_down"], "forced_down")
        if binary == "nova-compute" and not forced:
            _check_evacuations(state, host)
        _only_compute(binary)
        _row(state, host, binary)
        _set(state, host, forced_down=forced)
        return json_body({"service": {**reply, "forced_down": forced}})
    reason = None
    if action == "disable-log-reason":
        if "disabled_reason" not in body:
            raise NovaFault(400, "Missing disabled reason field")
        reason = str(body["disabled_reason"])
    status = "enabled" if action == "enable" else "disabled"
    _only_compute(binary)
    _row(state, host, binary)
    _set(state, host, status=status, disabled_reason=reason)
    reply["status"] = status
    if reason:
        reply["disabled_reason"] = reason
    return json_body({"service": reply})


def _update_v253(
    request: web.Request, service_id: str, body: dict[str, Any]
) -> web.Response:
    try:
        uuid.UUID(service_id)
    except ValueError:
        raise NovaFault(400, f"Invalid uuid {service_id}") from None
    extra = sorted(set(body) - set(_V253_KEYS))
    if extra:
        names = ", ".join(repr(k) for k in extra)
        verb = "was" if len(extra) == 1 else "were"
        raise _invalid(
            "",
            body,
            f"Additional properties are not allowed ({names} {verb} unexpected)",
        )
    if "status" in body and body["status"] not in _STATUS:
        raise _invalid(
            "status", body["status"],
            f"{json.dumps(body['status'])} is not one of {list(_STATUS)}",
        )  # fmt: skip
    state = state_of(request)
    row = next((r for r in services(state) if r["uuid"] == service_id), None)
    if row is None:
        raise NovaFault(404, f"Service {service_id} could not be found.")
    _only_compute(row["binary"])
    host = row["host"]
    changes: dict[str, Any] = {}
    if body.get("status") == "enabled":
        if body.get("disabled_reason"):
            raise NovaFault(
                400, "Specifying 'disabled_reason' with status 'enabled' is invalid."
            )
        changes.update(status="enabled", disabled_reason=None)
    elif body.get("status") == "disabled":
        changes.update(status="disabled", disabled_reason=body.get("disabled_reason"))
    if "forced_down" in body:
        changes["forced_down"] = _as_bool(body["forced_down"], "forced_down")
        if not changes["forced_down"]:
            _check_evacuations(state, host)
    if not changes:
        raise NovaFault(
            400,
            "No updates were requested. Fields 'status' or 'forced_down' should be "
            "specified.",
        )
    _set(state, host, **changes)
    return json_body(
        {"service": service_view(request, _row(state, host, row["binary"]))}
    )


async def update_service(request: web.Request) -> web.Response:
    """PUT /os-services/{service_id}."""
    require_admin(request, "os_compute_api:os-services:update")
    body = await _body(request)
    service_id = request.match_info["service_id"]
    if at_least(request, "2.53"):
        return _update_v253(request, service_id, body)
    return _update_v21(request, service_id, body)


async def aggregate_action(request: web.Request) -> web.Response:
    """POST /os-aggregates/{id}/action: add_host (other actions are not simulated)."""
    body = await _body(request)
    if list(body) != ["add_host"]:
        raise NovaFault(404, f"There is no such action: {', '.join(body) or '{}'}")
    require_admin(request, "os_compute_api:os-aggregates:add_host")
    args = body["add_host"]
    if not isinstance(args, dict) or "host" not in args:
        raise _invalid("add_host", args, "'host' is a required property")
    wanted, host = request.match_info["aggregate_id"], str(args["host"])
    if not wanted.lstrip("-").isdigit():
        raise NovaFault(400, "id must be an integer")
    state = state_of(request)
    # Nova looks the host's service up before the aggregate
    if host not in state.scenario.hosts:
        raise NovaFault(404, f"Compute host {host} could not be found.")
    rows = aggregates(state)
    index = int(wanted)
    if not 1 <= index <= len(rows):
        raise NovaFault(404, f"Aggregate {wanted} could not be found.")
    agg = rows[index - 1]
    conflicting = [
        other.availability_zone
        for other in rows
        if agg.availability_zone
        and other is not agg
        and host in other.hosts
        and other.availability_zone not in (None, agg.availability_zone)
    ]
    if conflicting:
        raise NovaFault(
            409,
            f"Cannot add host to aggregate {wanted}. Reason: One or more hosts "
            f"already in availability zone(s) {conflicting!r}.",
        )
    if host in agg.hosts:
        raise NovaFault(409, f"Aggregate {wanted} already has host {host}.")
    state.added_aggregate_hosts.setdefault(agg.name, []).append(host)
    return json_body(
        {"aggregate": aggregate_view(request, index, aggregates(state)[index - 1])}
    )


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_put(f"{prefix}/os-services/{{service_id}}", update_service)
    app.router.add_post(
        f"{prefix}/os-aggregates/{{aggregate_id}}/action", aggregate_action
    )
