"""os-instance-actions: list (with paging and time filters) and show with events.

Per nova/api/openstack/compute/instance_actions.py and live/servers/*/os-instance-actions:
``updated_at`` and paging from 2.58; event ``hostId`` from 2.62 (``host`` for admins);
``details`` from 2.84 (admins); ``traceback`` is admin-only at every version.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sim.api.nova.common import (
    NovaFault,
    admin,
    at_least,
    compute_url,
    host_id,
    iso,
    json_body,
    parse_time,
    state_of,
)
from sim.api.nova.servers import get_server
from sim.region.state import ActionEventRow, ActionRow


def action_view(request: web.Request, action: ActionRow) -> dict[str, Any]:
    view: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "message": action.message,
        "project_id": action.project_id,
        "request_id": action.request_id,
        "start_time": iso(action.start_time),
        "user_id": action.user_id,
    }
    if at_least(request, "2.58"):
        view["updated_at"] = iso(action.updated_at)
    return view


def event_view(
    request: web.Request, event: ActionEventRow, project_id: str
) -> dict[str, Any]:
    is_admin = admin(request)
    view: dict[str, Any] = {
        "event": event.event,
        "finish_time": iso(event.finish_time),
        "result": event.result,
        "start_time": iso(event.start_time),
    }
    if is_admin:
        view["traceback"] = event.traceback
    if at_least(request, "2.62"):
        view["hostId"] = host_id(project_id, event.host)
        if is_admin:
            view["host"] = event.host or ""
    if at_least(request, "2.84") and is_admin:
        view["details"] = event.details
    return view


def _actions_of(request: web.Request, server_id: str) -> list[ActionRow]:
    actions = [a for a in state_of(request).actions if a.instance_uuid == server_id]
    return sorted(actions, key=lambda a: a.start_time, reverse=True)


async def list_actions(request: web.Request) -> web.Response:
    server = get_server(request, request.match_info["server_id"])
    actions = _actions_of(request, server["id"])
    query = request.query
    more = False
    if at_least(request, "2.58"):
        if "changes-since" in query:
            since = parse_time(query["changes-since"], "changes-since")
            actions = [a for a in actions if a.updated_at >= since]
        if at_least(request, "2.66") and "changes-before" in query:
            before = parse_time(query["changes-before"], "changes-before")
            actions = [a for a in actions if a.updated_at <= before]
        if "marker" in query:
            index = next(
                (i for i, a in enumerate(actions) if a.request_id == query["marker"]),
                None,
            )
            if index is None:
                raise NovaFault(400, f"Marker {query['marker']} could not be found.")
            actions = actions[index + 1 :]
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                raise NovaFault(
                    400,
                    f"Invalid input for query parameters limit. Value: {query['limit']}.",
                ) from None
            more = len(actions) >= limit > 0
            actions = actions[:limit]
    body: dict[str, Any] = {
        "instanceActions": [action_view(request, a) for a in actions]
    }
    if more and actions:
        params = {k: v for k, v in query.items() if k != "marker"}
        params["marker"] = actions[-1].request_id
        href = (
            f"{compute_url(request)}/v2.1/servers/{server['id']}/os-instance-actions"
            f"?{urlencode(params)}"
        )
        body["links"] = [{"href": href, "rel": "next"}]
    return json_body(body)


async def show_action(request: web.Request) -> web.Response:
    server = get_server(request, request.match_info["server_id"])
    request_id = request.match_info["request_id"]
    action = next(
        (a for a in _actions_of(request, server["id"]) if a.request_id == request_id),
        None,
    )
    if action is None:
        raise NovaFault(
            404,
            f"Action for request_id {request_id} on instance {server['id']} not found",
        )
    view = action_view(request, action)
    # Nova lists events newest first (ordered by created_at desc)
    events = sorted(action.events, key=lambda e: e.start_time, reverse=True)
    view["events"] = [event_view(request, e, action.project_id) for e in events]
    return json_body({"instanceAction": view})


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/servers/{{server_id}}/os-instance-actions", list_actions)
    r.add_get(
        f"{prefix}/servers/{{server_id}}/os-instance-actions/{{request_id}}",
        show_action,
    )
