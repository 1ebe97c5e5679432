"""Nova servers and flavors: list, detail, show, extra specs, fields per microversion.

Field sets follow nova/api/openstack/compute/views/servers.py as recorded in
shared/reference/nova/live/servers/*/server.v2.*.json (admin) and api_samples (member).
"""

from __future__ import annotations

import hashlib
import re
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
from sim.region.state import RegionState, stable_uuid
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
    if spec.compute.forced_down or spec.compute.state == "down":
        return "DOWN"
    if spec.compute.status == "disabled":
        return "MAINTENANCE"
    return "UP"


def _mac(port_id: str) -> str:
    digest = hashlib.sha256(port_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def _addresses(server: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
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


def server_view(request: web.Request, server: dict[str, Any]) -> dict[str, Any]:
    """One server as GET /servers/{id} shows it at the request's microversion."""
    state = state_of(request)
    is_admin = admin(request)
    spec = server["spec"]
    flavor = find_flavor(state, server["flavor"])
    view: dict[str, Any] = {
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server["availability_zone"],
        "OS-EXT-STS:power_state": server["power_state"],
        "OS-EXT-STS:task_state": server["task_state"],
        "OS-EXT-STS:vm_state": server["vm_state"],
        "OS-SRV-USG:launched_at": iso(server["launched_at"]),
        "OS-SRV-USG:terminated_at": None,
        "accessIPv4": "",
        "accessIPv6": "",
        "addresses": _addresses(server),
        "config_drive": "",
        "created": iso_z(server["created_at"]),
        "hostId": host_id(server["project_id"], server["host"]),
        "id": server["id"],
        "image": {
            "id": IMAGE_ID,
            "links": [
                {"href": f"{compute_url(request)}/images/{IMAGE_ID}", "rel": "bookmark"}
            ],
        },
        "key_name": None,
        "links": _links(request, "servers", server["id"]),
        "metadata": {},
        "name": server["name"],
        "os-extended-volumes:volumes_attached": [
            {"delete_on_termination": False, "id": vid}
            if at_least(request, "2.3")
            else {"id": vid}
            for vid in server["volume_ids"]
        ],
        "progress": 0,
        "security_groups": [{"name": "default"}],
        "status": server["status"],
        "tenant_id": server["project_id"],
        "updated": iso_z(server["updated_at"]),
        "user_id": server["user_id"],
    }
    if server["boot_from_volume"]:
        view["image"] = ""
    if is_admin:
        view["OS-EXT-SRV-ATTR:host"] = server["host"]
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server["node"]
        view["OS-EXT-SRV-ATTR:instance_name"] = server["instance_name"]
    if at_least(request, "2.3") and is_admin:
        view.update(
            {
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:launch_index": 0,
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:reservation_id": "r-" + stable_uuid(server["id"])[:8],
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": None,
            }
        )
    if (at_least(request, "2.3") and is_admin) or at_least(request, "2.90"):
        view["OS-EXT-SRV-ATTR:hostname"] = server["name"]
    if at_least(request, "2.9"):
        view["locked"] = server["locked"]
    if at_least(request, "2.16") and is_admin:
        view["host_status"] = host_status(state, server["host"])
    if at_least(request, "2.19"):
        view["description"] = None
    if at_least(request, "2.26"):
        view["tags"] = []
    if at_least(request, "2.47"):
        view["flavor"] = {
            "disk": flavor.disk,
            "ephemeral": 0,
            "extra_specs": dict(flavor.extra_specs),
            "original_name": flavor.name,
            "ram": flavor.ram,
            "swap": 0,
            "vcpus": flavor.vcpus,
        }
    else:
        fid = flavor_id(state, flavor.name)
        view["flavor"] = {
            "id": fid,
            "links": [
                {"href": f"{compute_url(request)}/flavors/{fid}", "rel": "bookmark"}
            ],
        }
    if at_least(request, "2.63"):
        view["trusted_image_certificates"] = None
    if at_least(request, "2.71"):
        view["server_groups"] = []
    if at_least(request, "2.73"):
        view["locked_reason"] = None
    if at_least(request, "2.96"):
        view["pinned_availability_zone"] = server["pinned_availability_zone"]
    if at_least(request, "2.98") and isinstance(view["image"], dict):
        view["image"]["properties"] = dict(spec.image_properties)
    if at_least(request, "2.100"):
        view["scheduler_hints"] = {}
    fault = server.get("fault")
    if fault and server["status"] in ("ERROR", "DELETED"):
        shown = {
            "code": fault["code"],
            "created": iso_z(fault["created"]),
            "message": fault["message"],
        }
        # details are admin-only, except for non-500 faults (nova's view builder)
        if is_admin or fault["code"] != 500:
            shown["details"] = fault.get("details", "")
        view["fault"] = shown
    return view


def visible_servers(request: web.Request) -> list[dict[str, Any]]:
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
    for key, field in (("status", "status"), ("host", "host"), ("node", "node")):
        if key in query and (key == "status" or admin(request)):
            servers = [
                s for s in servers if str(s[field]).upper() == query[key].upper()
            ]
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


def get_server(request: web.Request, server_id: str) -> dict[str, Any]:
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
