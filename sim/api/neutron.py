"""Neutron v2.0 API (read side) of the simulated region, mounted under ``/network``.

Ports carry the ``binding:*`` attributes of their ACTIVE binding; every binding
(ACTIVE and INACTIVE) is listed by the binding-extended API
``GET /v2.0/ports/{id}/bindings``, so a stale inactive binding on a destination left by
an earlier failed live migration is visible as it is in a real region. Agents are the
OVN controller / metadata agents (or the Open vSwitch agent) of each hypervisor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

from aiohttp import web

from sim.api import keys
from sim.api.errors import json_response, neutron_error
from sim.region.state import PortBinding, RegionState, ServerRow, stable_uuid
from sim.scenario.model import Port

Endpoint = Callable[[web.Request, RegionState], Awaitable[web.Response]]

# The extensions a PCD (ML2/OVN) neutron-server lists that migration tooling looks at.
_EXTENSIONS = (
    ("agent", "agent", "The agent management extension."),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "binding-extended",
        "Port Bindings Extended",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "network_availability_zone",
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
    ),
    ("security-group", "security-group", "The security groups extension."),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have "
        "Neutron standard attributes.",
    ),
)


def add_routes(app: web.Application, state: RegionState) -> None:
    """Mount the Neutron API under ``/network`` on ``app``."""
    routes: list[tuple[str, Endpoint]] = [
        ("/network", _versions),
        ("/network/", _versions),
        ("/network/v2.0", _resources),
        ("/network/v2.0/", _resources),
        ("/network/v2.0/ports", _list_ports),
        ("/network/v2.0/ports/{id}", _show_port),
        ("/network/v2.0/ports/{id}/bindings", _list_bindings),
        ("/network/v2.0/ports/{id}/bindings/{host}", _show_binding),
        ("/network/v2.0/agents", _list_agents),
        ("/network/v2.0/agents/{id}", _show_agent),
        ("/network/v2.0/networks", _list_networks),
        ("/network/v2.0/networks/{id}", _show_network),
        ("/network/v2.0/extensions", _list_extensions),
        ("/network/v2.0/extensions/{alias}", _show_extension),
    ]
    for path, endpoint in routes:
        app.router.add_get(path, _bind(endpoint, state))
    app.router.add_delete(
        "/network/v2.0/ports/{id}/bindings/{host}", _bind(_delete_binding, state)
    )


def _bind(
    endpoint: Endpoint, state: RegionState
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await endpoint(request, state)

    return handler


def _ts(state: RegionState, *parts: str) -> str:
    """A stable creation time a few days before the region started."""
    offset = int(stable_uuid(state.scenario.name, *parts)[:4], 16) % 3600
    return (state.now - timedelta(days=3, seconds=offset)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _mac(port_id: str) -> str:
    digest = hashlib.sha256(port_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def _network_id(state: RegionState, name: str) -> str:
    return stable_uuid(state.scenario.name, "net", name)


def _subnet_id(state: RegionState, name: str) -> str:
    return stable_uuid(state.scenario.name, "subnet", name)


def _ports(state: RegionState) -> Iterator[dict[str, Any]]:
    for server in state.servers.values():
        spec = server["spec"]
        for index, port_id in enumerate(server["port_ids"]):
            yield _port_body(state, server, spec.ports[index], port_id)


def _port_body(
    state: RegionState, server: ServerRow, port: Port, port_id: str
) -> dict[str, Any]:
    bindings = state.port_bindings.get(port_id, {})
    active = next((b for b in bindings.values() if b.get("status") == "ACTIVE"), None)
    created = _ts(state, "port", port_id)
    return {
        "admin_state_up": True,
        "allowed_address_pairs": [],
        "binding:host_id": active["host"] if active else "",
        "binding:profile": dict(active.get("profile", {})) if active else {},
        "binding:vif_details": dict(active.get("vif_details", {})) if active else {},
        "binding:vif_type": active["vif_type"] if active else "unbound",
        "binding:vnic_type": active.get("vnic_type", port.vnic_type)
        if active
        else port.vnic_type,
        "created_at": created,
        "description": "",
        "device_id": server["id"],
        "device_owner": f"compute:{server['availability_zone']}",
        "extra_dhcp_opts": [],
        "fixed_ips": [
            {"subnet_id": _subnet_id(state, port.network), "ip_address": port.ip}
        ],
        "id": port_id,
        "ip_allocation": "immediate",
        "mac_address": port.mac or _mac(port_id),
        "name": "",
        "network_id": _network_id(state, port.network),
        "port_security_enabled": True,
        "project_id": server["project_id"],
        "propagate_uplink_status": False,
        "qos_network_policy_id": None,
        "qos_policy_id": None,
        "resource_request": None,
        "revision_number": 2 + len(bindings),
        "security_groups": [
            stable_uuid(state.scenario.name, "secgroup", server["project"])
        ],
        "status": port.status,
        "tags": [],
        "tenant_id": server["project_id"],
        "updated_at": created,
    }


def _select(
    request: web.Request, items: list[dict[str, Any]], keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Neutron's query filtering: each given key must match one of its values."""
    for key in keys:
        values = request.query.getall(key, [])
        if values:
            items = [i for i in items if str(_as_query(i.get(key))) in values]
    fields = request.query.getall("fields", [])
    if fields:
        items = [{k: v for k, v in i.items() if k in fields} for i in items]
    return items


def _as_query(value: Any) -> str:
    # booleans are compared the way Neutron's converters accept them in a query string
    return str(value) if not isinstance(value, bool) else ("True" if value else "False")


async def _versions(request: web.Request, state: RegionState) -> web.Response:
    href = f"{request.scheme}://{request.host}/network/v2.0/"
    version = {
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"href": href, "rel": "self"}],
    }
    return json_response(request, {"versions": [version]})


async def _resources(request: web.Request, state: RegionState) -> web.Response:
    base = f"{request.scheme}://{request.host}/network/v2.0"
    names = ("network", "port", "agent", "extension")
    body = [
        {
            "links": [{"href": f"{base}/{n}s", "rel": "self"}],
            "name": n,
            "collection": n + "s",
        }
        for n in names
    ]
    return json_response(request, {"resources": body})


async def _list_ports(request: web.Request, state: RegionState) -> web.Response:
    keys = (
        "id",
        "device_id",
        "network_id",
        "binding:host_id",
        "mac_address",
        "device_owner",
        "status",
        "project_id",
        "tenant_id",
        "name",
    )
    return json_response(
        request, {"ports": _select(request, list(_ports(state)), keys)}
    )


def _find_port(
    request: web.Request, state: RegionState
) -> dict[str, Any] | web.Response:
    port_id = request.match_info["id"]
    for port in _ports(state):
        if port["id"] == port_id:
            return port
    return neutron_error(
        request, 404, "PortNotFound", f"Port {port_id} could not be found."
    )


async def _show_port(request: web.Request, state: RegionState) -> web.Response:
    port = _find_port(request, state)
    if isinstance(port, web.Response):
        return port
    return json_response(request, {"port": _select(request, [port], ())[0]})


def _binding_body(binding: PortBinding) -> dict[str, Any]:
    return {
        "host": binding["host"],
        "vif_type": binding.get("vif_type", "unbound"),
        "vif_details": dict(binding.get("vif_details", {})),
        "profile": dict(binding.get("profile", {})),
        "vnic_type": binding.get("vnic_type", "normal"),
        "status": binding.get("status", "ACTIVE"),
    }


async def _list_bindings(request: web.Request, state: RegionState) -> web.Response:
    port = _find_port(request, state)
    if isinstance(port, web.Response):
        return port
    bindings = [
        _binding_body(b) for b in state.port_bindings.get(port["id"], {}).values()
    ]
    bindings = _select(request, bindings, ("host", "vif_type", "vnic_type", "status"))
    return json_response(request, {"bindings": bindings})


async def _show_binding(request: web.Request, state: RegionState) -> web.Response:
    port = _find_port(request, state)
    if isinstance(port, web.Response):
        return port
    host = request.match_info["host"]
    binding = state.port_bindings.get(port["id"], {}).get(host)
    if binding is None:
        message = f"Binding for port {port['id']} for host {host} could not be found."
        return neutron_error(request, 404, "PortBindingNotFound", message)
    return json_response(request, {"binding": _binding_body(binding)})


async def _delete_binding(request: web.Request, state: RegionState) -> web.Response:
    """DELETE a port's binding on a host (neutron/api/v2/base.py ``_delete``).

    The binding is looked up before the policy, so a missing one is 404
    PortBindingNotFound for anyone. ``delete_port_binding`` is SERVICE-only in current
    Neutron policies (Nova deletes bindings with its service user): an admin, who may
    show the binding, gets 403; a caller who may not even show it is told 404.
    """
    port = _find_port(request, state)
    if isinstance(port, web.Response):
        return port
    host = request.match_info["host"]
    bindings = state.port_bindings.get(port["id"], {})
    if host not in bindings:
        message = f"Binding for port {port['id']} for host {host} could not be found."
        return neutron_error(request, 404, "PortBindingNotFound", message)
    roles = request[keys.AUTH][2]
    if "service" not in roles:
        if "admin" in roles:  # get_port_binding is ADMIN_OR_SERVICE
            message = "rule:delete_port_binding is disallowed by policy"
            return neutron_error(request, 403, "PolicyNotAuthorized", message)
        message = "The resource could not be found."
        return neutron_error(request, 404, "HTTPNotFound", message)
    del bindings[host]
    return web.Response(status=204)


def _agents(state: RegionState) -> list[dict[str, Any]]:
    agents = []
    stamp = "%Y-%m-%d %H:%M:%S"
    for name, host in state.scenario.hosts.items():
        alive = host.network_agent_alive and host.reachable
        if host.network_agent == "ovn":
            kinds = [
                ("OVN Controller agent", "ovn-controller", alive),
                (
                    "OVN Metadata agent",
                    "neutron-ovn-metadata-agent",
                    host.reachable
                    and host.units.get("pf9-neutron-ovn-metadata-agent") == "active",
                ),
            ]
        else:
            kinds = [("Open vSwitch agent", "neutron-openvswitch-agent", alive)]
        for agent_type, binary, is_alive in kinds:
            beat = state.now - timedelta(seconds=20 if is_alive else 900)
            config: dict[str, Any] = {"bridge-mappings": "physnet1:br-ex"}
            if binary == "ovn-controller":
                config |= {
                    "chassis_name": stable_uuid(state.scenario.name, "chassis", name),
                    "ovn-bridge": "br-int",
                    "datapath-type": "system",
                }
            agents.append(
                {
                    "admin_state_up": True,
                    "agent_type": agent_type,
                    "alive": is_alive,
                    "availability_zone": "",
                    "binary": binary,
                    "configurations": config,
                    "created_at": (state.now - timedelta(days=30)).strftime(stamp),
                    "description": "",
                    "ha_state": None,
                    "heartbeat_timestamp": beat.strftime(stamp),
                    "host": name,
                    "id": stable_uuid(state.scenario.name, "agent", name, binary),
                    "resources_synced": None,
                    "started_at": (state.now - timedelta(days=2)).strftime(stamp),
                    "topic": "n/a" if host.network_agent == "ovn" else "N/A",
                }
            )
    return agents


async def _list_agents(request: web.Request, state: RegionState) -> web.Response:
    keys = ("id", "host", "agent_type", "binary", "alive", "admin_state_up", "topic")
    return json_response(request, {"agents": _select(request, _agents(state), keys)})


async def _show_agent(request: web.Request, state: RegionState) -> web.Response:
    agent_id = request.match_info["id"]
    for agent in _agents(state):
        if agent["id"] == agent_id:
            return json_response(request, {"agent": agent})
    return neutron_error(
        request, 404, "AgentNotFound", f"Agent {agent_id} could not be found."
    )


def _networks(state: RegionState) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    ovn = any(h.network_agent == "ovn" for h in state.scenario.hosts.values())
    for server in state.servers.values():
        for port in server["spec"].ports:
            if port.network in seen:
                continue
            net_id = _network_id(state, port.network)
            created = _ts(state, "net", port.network)
            seen[port.network] = {
                "admin_state_up": True,
                "availability_zone_hints": [],
                "availability_zones": [],
                "created_at": created,
                "description": "",
                "id": net_id,
                "ipv4_address_scope": None,
                "ipv6_address_scope": None,
                "l2_adjacency": True,
                "mtu": 1442 if ovn else 1450,
                "name": port.network,
                "port_security_enabled": True,
                "project_id": server["project_id"],
                "provider:network_type": "geneve" if ovn else "vxlan",
                "provider:physical_network": None,
                "provider:segmentation_id": int(net_id[:4], 16) % 4000 + 1,
                "revision_number": 2,
                "router:external": False,
                "shared": False,
                "status": "ACTIVE",
                "subnets": [_subnet_id(state, port.network)],
                "tags": [],
                "tenant_id": server["project_id"],
                "updated_at": created,
            }
    return list(seen.values())


async def _list_networks(request: web.Request, state: RegionState) -> web.Response:
    keys = ("id", "name", "status", "project_id", "tenant_id", "shared")
    return json_response(
        request, {"networks": _select(request, _networks(state), keys)}
    )


async def _show_network(request: web.Request, state: RegionState) -> web.Response:
    net_id = request.match_info["id"]
    for network in _networks(state):
        if network["id"] == net_id:
            return json_response(request, {"network": network})
    message = f"Network {net_id} could not be found."
    return neutron_error(request, 404, "NetworkNotFound", message)


def _extension(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "links": [],
        "updated": "2017-07-17T10:00:00-00:00",
    }


async def _list_extensions(request: web.Request, state: RegionState) -> web.Response:
    return json_response(request, {"extensions": [_extension(*e) for e in _EXTENSIONS]})


async def _show_extension(request: web.Request, state: RegionState) -> web.Response:
    alias = request.match_info["alias"]
    for ext in _EXTENSIONS:
        if ext[0] == alias:
            return json_response(request, {"extension": _extension(*ext)})
    message = f"Extension with alias {alias} does not exist"
    return neutron_error(request, 404, "ExtensionNotFound", message)
