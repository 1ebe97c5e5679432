"""os-instance-actions: list (with paging and time filters) and show with events.

Per nova/api/openstack/compute/instance_actions.py and live/servers/*/os-instance-actions:
``updated_at`` and paging from 2.58; event ``hostId`` from 2.62 (``host`` for admins);
``details`` from 2.84 (admins); ``traceback`` is admin-only at every version.
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
    host_id,
    iso,
    json_body,
    parse_time,
    state_of,
)
from sim.api.nova.fields import Field, render
from sim.api.nova.servers import get_server
from sim.region.state import ActionEventRow, ActionRow


@dataclass(frozen=True, slots=True)
class _Event:
    event: ActionEventRow
    project_id: str  # of the instance: hostId hashes it with the host


ACTION_FIELDS: tuple[Field[ActionRow], ...] = (
    Field("action", lambda a: a.action),
    Field("instance_uuid", lambda a: a.instance_uuid),
    Field("message", lambda a: a.message),
    Field("project_id", lambda a: a.project_id),
    Field("request_id", lambda a: a.request_id),
    Field("start_time", lambda a: iso(a.start_time)),
    Field("user_id", lambda a: a.user_id),
    Field("updated_at", lambda a: iso(a.updated_at), since="2.58"),
)

EVENT_FIELDS: tuple[Field[_Event], ...] = (
    Field("event", lambda e: e.event.event),
    Field("finish_time", lambda e: iso(e.event.finish_time)),
    Field("result", lambda e: e.event.result),
    Field("start_time", lambda e: iso(e.event.start_time)),
    Field("traceback", lambda e: e.event.traceback, admin="2.1"),
    Field("hostId", lambda e: host_id(e.project_id, e.event.host), since="2.62"),
    Field("host", lambda e: e.event.host or "", admin="2.62"),
    Field("details", lambda e: e.event.details, admin="2.84"),
)


def action_view(request: web.Request, action: ActionRow) -> dict[str, Any]:
    return render(ACTION_FIELDS, action, request)


def event_view(
    request: web.Request, event: ActionEventRow, project_id: str
) -> dict[str, Any]:
    return render(EVENT_FIELDS, _Event(event, project_id), request)


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
