"""Nova servers and flavors: list, detail, show, extra specs, fields per microversion.

Field sets follow nova/api/openstack/compute/views/servers.py as recorded in
shared/reference/nova/live/servers/*/server.v2.*.json (admin) and api_samples (member).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sim.api.nova.common import (
    NOT_FOUND,
    NovaFault,
    admin,
    at_least,
    caller_project,
    compute_url,
    host_id,
    iso,
    iso_z,
    json_body,
    parse_bool,
    state_of,
)
from sim.api.nova.fields import OMIT, Field, render
from sim.region.state import RegionState, ServerRow, compute_service, stable_uuid
from sim.scenario.model import Flavor

IMAGE_ID = "155d900f-4e14-4e4c-a73d-069cbf4541e6"


def flavor_id(state: RegionState, name: str) -> str:
    names = [f.name for f in state.scenario.flavors]
    return str(100 + names.index(name) + 1) if name in names else "1"


def find_flavor(state: RegionState, flavor_ref: str) -> Flavor:
    for flavor in state.scenario.flavors:
        if flavor_ref in (flavor.name, flavor_id(state, flavor.name)):
            return flavor
    raise NovaFault(404, f"Flavor {flavor_ref} could not be found.")


def host_status(state: RegionState, host: str | None) -> str:
    """UP / DOWN / MAINTENANCE / UNKNOWN, as Nova derives it from the compute service."""
    spec = state.scenario.hosts.get(host or "")
    if spec is None:
        return "UNKNOWN" if host else ""
    service = compute_service(state, host or "")
    if service.forced_down or service.state == "down":
        return "DOWN"
    if service.status == "disabled":
        return "MAINTENANCE"
    return "UP"


def _mac(port_id: str) -> str:
    digest = hashlib.sha256(port_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def _addresses(server: ServerRow) -> dict[str, list[dict[str, Any]]]:
    spec = server["spec"]
    addresses: dict[str, list[dict[str, Any]]] = {}
    for port, port_id in zip(spec.ports, server["port_ids"], strict=True):
        addresses.setdefault(port.network, []).append(
            {
                "OS-EXT-IPS-MAC:mac_addr": port.mac or _mac(port_id),
                "OS-EXT-IPS:type": "fixed",
                "addr": port.ip,
                "version": 6 if ":" in port.ip else 4,
            }
        )
    return addresses


def _links(request: web.Request, kind: str, ident: str) -> list[dict[str, str]]:
    base = compute_url(request)
    return [
        {"href": f"{base}/v2.1/{kind}/{ident}", "rel": "self"},
        {"href": f"{base}/{kind}/{ident}", "rel": "bookmark"},
    ]


@dataclass(frozen=True, slots=True)
class _Shown:
    """What a server's fields are computed from, for one request."""

    request: web.Request
    state: RegionState
    server: ServerRow
    flavor: Flavor

    @property
    def is_admin(self) -> bool:
        return admin(self.request)


def _image_ref(v: _Shown) -> dict[str, Any] | str:
    if v.server["boot_from_volume"]:
        return ""  # a volume-backed server has no image
    return render(_IMAGE_FIELDS, v, v.request)


def _image_links(v: _Shown) -> list[dict[str, str]]:
    return [{"href": f"{compute_url(v.request)}/images/{IMAGE_ID}", "rel": "bookmark"}]


def _flavor_link(v: _Shown) -> dict[str, Any]:
    fid = flavor_id(v.state, v.flavor.name)
    href = f"{compute_url(v.request)}/flavors/{fid}"
    return {"id": fid, "links": [{"href": href, "rel": "bookmark"}]}


def _flavor_embedded(v: _Shown) -> dict[str, Any]:
    f = v.flavor
    return {
        "disk": f.disk,
        "ephemeral": 0,
        "extra_specs": dict(f.extra_specs),
        "original_name": f.name,
        "ram": f.ram,
        "swap": 0,
        "vcpus": f.vcpus,
    }


def _fault(v: _Shown) -> dict[str, Any] | object:
    fault = v.server["fault"]
    if not fault or v.server["status"] not in ("ERROR", "DELETED"):
        return OMIT  # Nova shows a fault only for ERROR and DELETED servers
    shown: dict[str, Any] = {
        "code": fault["code"],
        "created": iso_z(fault["created"]),
        "message": fault["message"],
    }
    # details are admin-only, except for non-500 faults (nova's view builder)
    if v.is_admin or fault["code"] != 500:
        shown["details"] = fault["details"]
    return shown


def _const(value: Any) -> Callable[[_Shown], Any]:
    return lambda _v: copy.deepcopy(value)


_IMAGE_FIELDS: tuple[Field[_Shown], ...] = (
    Field("id", _const(IMAGE_ID)),
    Field("links", _image_links),
    Field(
        "properties", lambda v: dict(v.server["spec"].image_properties), since="2.98"
    ),
)

# nova/api/openstack/compute/views/servers.py, in the order it writes them
SERVER_FIELDS: tuple[Field[_Shown], ...] = (
    Field("OS-DCF:diskConfig", _const("MANUAL")),
    Field("OS-EXT-AZ:availability_zone", lambda v: v.server["availability_zone"]),
    Field("OS-EXT-STS:power_state", lambda v: v.server["power_state"]),
    Field("OS-EXT-STS:task_state", lambda v: v.server["task_state"]),
    Field("OS-EXT-STS:vm_state", lambda v: v.server["vm_state"]),
    Field("OS-SRV-USG:launched_at", lambda v: iso(v.server["launched_at"])),
    Field("OS-SRV-USG:terminated_at", _const(None)),
    Field("accessIPv4", _const("")),
    Field("accessIPv6", _const("")),
    Field("addresses", lambda v: _addresses(v.server)),
    Field("config_drive", _const("")),
    Field("created", lambda v: iso_z(v.server["created_at"])),
    Field("hostId", lambda v: host_id(v.server["project_id"], v.server["host"])),
    Field("id", lambda v: v.server["id"]),
    Field("image", _image_ref),
    Field("key_name", _const(None)),
    Field("links", lambda v: _links(v.request, "servers", v.server["id"])),
    Field("metadata", _const({})),
    Field("name", lambda v: v.server["name"]),
    Field(
        "os-extended-volumes:volumes_attached",
        lambda v: [{"id": vid} for vid in v.server["volume_ids"]],
        until="2.3",
    ),
    Field(
        "os-extended-volumes:volumes_attached",
        lambda v: [
            {"delete_on_termination": False, "id": vid}
            for vid in v.server["volume_ids"]
        ],
        since="2.3",
    ),
    Field("progress", _const(0)),
    Field("security_groups", _const([{"name": "default"}])),
    Field("status", lambda v: v.server["status"]),
    Field("tenant_id", lambda v: v.server["project_id"]),
    Field("updated", lambda v: iso_z(v.server["updated_at"])),
    Field("user_id", lambda v: v.server["user_id"]),
    Field("OS-EXT-SRV-ATTR:host", lambda v: v.server["host"], admin="2.1"),
    Field(
        "OS-EXT-SRV-ATTR:hypervisor_hostname", lambda v: v.server["node"], admin="2.1"
    ),
    Field(
        "OS-EXT-SRV-ATTR:instance_name",
        lambda v: v.server["instance_name"],
        admin="2.1",
    ),
    Field("OS-EXT-SRV-ATTR:kernel_id", _const(""), admin="2.3"),
    Field("OS-EXT-SRV-ATTR:launch_index", _const(0), admin="2.3"),
    Field("OS-EXT-SRV-ATTR:ramdisk_id", _const(""), admin="2.3"),
    Field(
        "OS-EXT-SRV-ATTR:reservation_id",
        lambda v: "r-" + stable_uuid(v.server["id"])[:8],
        admin="2.3",
    ),
    Field("OS-EXT-SRV-ATTR:root_device_name", _const("/dev/vda"), admin="2.3"),
    Field("OS-EXT-SRV-ATTR:user_data", _const(None), admin="2.3"),
    Field(
        "OS-EXT-SRV-ATTR:hostname",
        lambda v: v.server["name"],
        admin="2.3",
        since="2.90",
    ),
    Field("locked", lambda v: v.server["locked"], since="2.9"),
    Field(
        "host_status", lambda v: host_status(v.state, v.server["host"]), admin="2.16"
    ),
    Field("description", _const(None), since="2.19"),
    Field("tags", _const([]), since="2.26"),
    Field("flavor", _flavor_link, until="2.47"),
    Field("flavor", _flavor_embedded, since="2.47"),
    Field("trusted_image_certificates", _const(None), since="2.63"),
    Field("server_groups", _const([]), since="2.71"),
    Field("locked_reason", _const(None), since="2.73"),
    Field(
        "pinned_availability_zone",
        lambda v: v.server["pinned_availability_zone"],
        since="2.96",
    ),
    Field("scheduler_hints", _const({}), since="2.100"),
    Field("fault", _fault),
)


def server_view(request: web.Request, server: ServerRow) -> dict[str, Any]:
    """One server as GET /servers/{id} shows it at the request's microversion."""
    state = state_of(request)
    shown = _Shown(request, state, server, find_flavor(state, server["flavor"]))
    return render(SERVER_FIELDS, shown, request)


def visible_servers(request: web.Request) -> list[ServerRow]:
    """Servers of the caller's project, or of every project with all_tenants (admin)."""
    state = state_of(request)
    query = request.query
    everyone = admin(request) and (
        parse_bool(query.get("all_tenants"))
        or ("all_tenants" in query and not query["all_tenants"])
    )
    servers = [
        s
        for s in state.servers.values()
        if everyone or s["project_id"] == caller_project(request)
    ]
    if "project_id" in query and admin(request):
        servers = [s for s in servers if s["project_id"] == query["project_id"]]
    if name := query.get("name"):
        # Nova matches name as a regular expression (re.search), not an exact string
        try:
            pattern = re.compile(name)
        except re.error:
            pattern = re.compile(re.escape(name))
        servers = [s for s in servers if pattern.search(s["name"])]
    # status is a filter for everyone, host and node for admins only
    by: tuple[tuple[str, Callable[[ServerRow], str]], ...] = (
        ("status", lambda s: s["status"]),
        ("host", lambda s: s["host"]),
        ("node", lambda s: s["node"]),
    )
    for key, value in by:
        if key in query and (key == "status" or admin(request)):
            servers = [s for s in servers if value(s).upper() == query[key].upper()]
    if "availability_zone" in query:
        servers = [
            s for s in servers if s["availability_zone"] == query["availability_zone"]
        ]
    return sorted(servers, key=lambda s: s["created_at"], reverse=True)


async def list_servers(request: web.Request) -> web.Response:
    servers = [
        {"id": s["id"], "links": _links(request, "servers", s["id"]), "name": s["name"]}
        for s in visible_servers(request)
    ]
    return json_body({"servers": servers})


async def list_servers_detail(request: web.Request) -> web.Response:
    return json_body(
        {"servers": [server_view(request, s) for s in visible_servers(request)]}
    )


def get_server(request: web.Request, server_id: str) -> ServerRow:
    """The server, visible to the caller, or Nova's 404."""
    server = state_of(request).servers.get(server_id)
    if server is None or (
        not admin(request) and server["project_id"] != caller_project(request)
    ):
        raise NovaFault(404, f"Instance {server_id} could not be found.")
    return server


async def show_server(request: web.Request) -> web.Response:
    server = get_server(request, request.match_info["server_id"])
    return json_body({"server": server_view(request, server)})


def flavor_view(request: web.Request, flavor: Flavor) -> dict[str, Any]:
    fid = flavor_id(state_of(request), flavor.name)
    view: dict[str, Any] = {
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "disk": flavor.disk,
        "id": fid,
        "links": _links(request, "flavors", fid),
        "name": flavor.name,
        "os-flavor-access:is_public": True,
        "ram": flavor.ram,
        "swap": 0 if at_least(request, "2.75") else "",
        "vcpus": flavor.vcpus,
    }
    if not at_least(request, "2.102"):
        view["OS-FLV-DISABLED:disabled"] = False
        view["rxtx_factor"] = 1.0
    if at_least(request, "2.55"):
        view["description"] = None
    if at_least(request, "2.61"):
        view["extra_specs"] = dict(flavor.extra_specs)
    return view


async def list_flavors(request: web.Request) -> web.Response:
    state = state_of(request)
    flavors = [
        {
            "id": flavor_id(state, f.name),
            "links": _links(request, "flavors", flavor_id(state, f.name)),
            "name": f.name,
        }
        | ({"description": None} if at_least(request, "2.55") else {})
        for f in state.scenario.flavors
    ]
    return json_body({"flavors": flavors})


async def list_flavors_detail(request: web.Request) -> web.Response:
    flavors = [flavor_view(request, f) for f in state_of(request).scenario.flavors]
    return json_body({"flavors": flavors})


async def show_flavor(request: web.Request) -> web.Response:
    flavor = find_flavor(state_of(request), request.match_info["flavor_id"])
    return json_body({"flavor": flavor_view(request, flavor)})


async def flavor_extra_specs(request: web.Request) -> web.Response:
    flavor = find_flavor(state_of(request), request.match_info["flavor_id"])
    return json_body({"extra_specs": dict(flavor.extra_specs)})


async def flavor_extra_spec(request: web.Request) -> web.Response:
    flavor = find_flavor(state_of(request), request.match_info["flavor_id"])
    key = request.match_info["key"]
    if key not in flavor.extra_specs:
        raise NovaFault(
            404,
            f"Flavor {flavor_id(state_of(request), flavor.name)} has no extra specs with key {key}.",
        )
    return json_body({key: flavor.extra_specs[key]})


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/servers", list_servers)
    r.add_get(f"{prefix}/servers/detail", list_servers_detail)
    r.add_get(f"{prefix}/servers/{{server_id}}", show_server)
    r.add_get(f"{prefix}/flavors", list_flavors)
    r.add_get(f"{prefix}/flavors/detail", list_flavors_detail)
    r.add_get(f"{prefix}/flavors/{{flavor_id}}", show_flavor)
    r.add_get(f"{prefix}/flavors/{{flavor_id}}/os-extra_specs", flavor_extra_specs)
    r.add_get(
        f"{prefix}/flavors/{{flavor_id}}/os-extra_specs/{{key}}", flavor_extra_spec
    )


__all__ = ["NOT_FOUND", "add_routes", "get_server", "host_status", "server_view"]
