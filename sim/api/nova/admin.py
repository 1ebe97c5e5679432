"""os-services, os-hypervisors, os-aggregates and os-availability-zone.

Shapes per live/global/*.v2.*.json: integer ids below 2.53 and uuids from 2.53;
``forced_down`` from 2.11; hypervisor ``cpu_info`` a JSON string below 2.28; capacity
fields and ``cpu_info`` gone from 2.88 (``uptime`` appears); aggregate ``uuid`` from 2.41.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from sim.api.nova.common import (
    NovaFault,
    at_least,
    iso,
    json_body,
    parse_bool,
    require_admin,
    state_of,
)
from sim.api.nova.fields import Field, render
from sim.api.nova.servers import find_flavor
from sim.region.identity import CONDUCTOR_HOST, provider_uuid
from sim.region.state import RegionState, compute_service, stable_uuid
from sim.scenario.model import Aggregate, Host
from sim.scenario.times import resolve_time


def services(state: RegionState) -> list[dict[str, Any]]:
    """Every nova service: conductor and scheduler on the controller, a compute per host."""
    rows: list[dict[str, Any]] = []
    now = state.now
    for binary in ("nova-conductor", "nova-scheduler"):
        rows.append({"binary": binary, "host": CONDUCTOR_HOST, "zone": "internal",
                     "status": "enabled", "state": "up", "forced_down": False,
                     "disabled_reason": None, "updated_at": now - timedelta(seconds=5)})  # fmt: skip
    for name, host in state.scenario.hosts.items():
        c = compute_service(state, name)
        rows.append(
            {
                "binary": "nova-compute",
                "host": name,
                "zone": host.az,
                "status": c.status,
                "state": "down" if c.forced_down else c.state,
                "forced_down": c.forced_down,
                "disabled_reason": c.disabled_reason,
                "updated_at": resolve_time(c.updated_at, now),
            }
        )
    for index, row in enumerate(rows, start=1):
        row["int_id"] = index
        row["uuid"] = stable_uuid(
            state.scenario.name, "service", row["binary"], row["host"]
        )
    return rows


def service_view(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    view = {
        "binary": row["binary"],
        "disabled_reason": row["disabled_reason"],
        "host": row["host"],
        "id": row["uuid"] if at_least(request, "2.53") else row["int_id"],
        "state": row["state"],
        "status": row["status"],
        "updated_at": iso(row["updated_at"]),
        "zone": row["zone"],
    }
    if at_least(request, "2.11"):
        view["forced_down"] = row["forced_down"]
    return view


async def list_services(request: web.Request) -> web.Response:
    require_admin(request, "os_compute_api:os-services:list")
    rows = services(state_of(request))
    for key in ("host", "binary"):
        if key in request.query:
            rows = [r for r in rows if r[key] == request.query[key]]
    return json_body({"services": [service_view(request, r) for r in rows]})


@dataclass(frozen=True, slots=True)
class _Usage:
    """What the servers on a hypervisor use, on top of the scenario's baseline."""

    vcpus: int
    ram_mb: int
    disk_gb: int
    running_vms: int


@dataclass(frozen=True, slots=True)
class _Hypervisor:
    state: RegionState
    index: int  # the integer id before 2.53
    name: str
    host: Host
    service: dict[str, Any]  # its nova-compute row of os-services
    usage: _Usage


def _usage(state: RegionState, name: str, host: Host) -> _Usage:
    on_host = [s for s in state.servers.values() if s["host"] == name]
    res = host.resources
    flavors = [find_flavor(state, s["flavor"]) for s in on_host]
    disk = sum(
        f.disk
        for f, s in zip(flavors, on_host, strict=True)
        if not s["boot_from_volume"]
    )
    return _Usage(
        vcpus=res.used_vcpus + sum(f.vcpus for f in flavors),
        ram_mb=res.reserved_memory_mb
        + res.used_memory_mb
        + sum(f.ram for f in flavors),
        disk_gb=res.used_disk_gb + disk,
        running_vms=len(on_host),
    )


def _cpu_info(h: _Hypervisor) -> dict[str, Any]:
    cpu, res = h.host.cpu, h.host.resources
    return {
        "arch": cpu.arch,
        "model": cpu.libvirt_model,
        "vendor": cpu.vendor,
        "topology": {
            "cells": 2,
            "sockets": 2,
            "cores": max(res.vcpus // 4, 1),
            "threads": 2,
        },
        "features": list(cpu.flags),
    }


def _service_ref(id_key: str) -> Callable[[_Hypervisor], dict[str, Any]]:
    def ref(h: _Hypervisor) -> dict[str, Any]:
        return {
            "disabled_reason": h.service["disabled_reason"],
            "host": h.name,
            "id": h.service[id_key],
        }

    return ref


# nova/api/openstack/compute/hypervisors.py; the capacity fields went away in 2.88
HYPERVISOR_FIELDS: tuple[Field[_Hypervisor], ...] = (
    Field("host_ip", lambda h: h.host.host_ip),
    Field("hypervisor_hostname", lambda h: h.name),
    Field("hypervisor_type", lambda h: "QEMU"),
    Field("hypervisor_version", lambda h: h.host.hypervisor_version),
    Field("id", lambda h: h.index, until="2.53"),
    Field("id", lambda h: provider_uuid(h.state.scenario, h.name), since="2.53"),
    Field("service", _service_ref("int_id"), until="2.53"),
    Field("service", _service_ref("uuid"), since="2.53"),
    Field("state", lambda h: h.service["state"]),
    Field("status", lambda h: h.service["status"]),
    Field("uptime", lambda h: None, since="2.88"),
    Field("cpu_info", lambda h: json.dumps(_cpu_info(h)), until="2.28"),
    Field("cpu_info", _cpu_info, since="2.28", until="2.88"),
    Field("current_workload", lambda h: 0, until="2.88"),
    Field(
        "disk_available_least",
        lambda h: h.host.resources.disk_gb - h.usage.disk_gb,
        until="2.88",
    ),
    Field(
        "free_disk_gb",
        lambda h: h.host.resources.disk_gb - h.usage.disk_gb,
        until="2.88",
    ),
    Field(
        "free_ram_mb",
        lambda h: h.host.resources.memory_mb - h.usage.ram_mb,
        until="2.88",
    ),
    Field("local_gb", lambda h: h.host.resources.disk_gb, until="2.88"),
    Field("local_gb_used", lambda h: h.usage.disk_gb, until="2.88"),
    Field("memory_mb", lambda h: h.host.resources.memory_mb, until="2.88"),
    Field("memory_mb_used", lambda h: h.usage.ram_mb, until="2.88"),
    Field("running_vms", lambda h: h.usage.running_vms, until="2.88"),
    Field("vcpus", lambda h: h.host.resources.vcpus, until="2.88"),
    Field("vcpus_used", lambda h: h.usage.vcpus, until="2.88"),
)


def _hypervisor(request: web.Request, index: int, name: str) -> dict[str, Any]:
    state = state_of(request)
    host = state.scenario.hosts[name]
    service = next(
        r
        for r in services(state)
        if r["host"] == name and r["binary"] == "nova-compute"
    )
    shown = _Hypervisor(state, index, name, host, service, _usage(state, name, host))
    return render(HYPERVISOR_FIELDS, shown, request)


def _with_servers(request: web.Request, view: dict[str, Any]) -> dict[str, Any]:
    state = state_of(request)
    name = view["hypervisor_hostname"]
    view["servers"] = [
        {"name": s["instance_name"], "uuid": s["id"]}
        for s in sorted(state.servers.values(), key=lambda s: s["instance_name"])
        if s["host"] == name
    ]
    return view


def _hypervisors(request: web.Request) -> list[tuple[int, str]]:
    names = list(state_of(request).scenario.hosts)
    hosts = list(enumerate(names, start=1))
    pattern = request.query.get("hypervisor_hostname_pattern")
    if pattern and at_least(request, "2.53"):
        hosts = [(i, n) for i, n in hosts if pattern in n]
        if not hosts:
            raise NovaFault(404, f"No hypervisor matching '{pattern}' could be found.")
    return hosts


async def list_hypervisors(request: web.Request) -> web.Response:
    require_admin(request, "os_compute_api:os-hypervisors:list")
    with_servers = at_least(request, "2.53") and parse_bool(
        request.query.get("with_servers")
    )
    rows = []
    for index, name in _hypervisors(request):
        full = _hypervisor(request, index, name)
        row = {k: full[k] for k in ("hypervisor_hostname", "id", "state", "status")}
        rows.append(_with_servers(request, row) if with_servers else row)
    return json_body({"hypervisors": rows})


async def list_hypervisors_detail(request: web.Request) -> web.Response:
    require_admin(request, "os_compute_api:os-hypervisors:list-detail")
    with_servers = at_least(request, "2.53") and parse_bool(
        request.query.get("with_servers")
    )
    rows = [_hypervisor(request, i, n) for i, n in _hypervisors(request)]
    if with_servers:
        rows = [_with_servers(request, r) for r in rows]
    return json_body({"hypervisors": rows})


async def show_hypervisor(request: web.Request) -> web.Response:
    require_admin(request, "os_compute_api:os-hypervisors:show")
    wanted = request.match_info["hypervisor_id"]
    for index, name in enumerate(state_of(request).scenario.hosts, start=1):
        view = _hypervisor(request, index, name)
        if str(view["id"]) == wanted:
            if at_least(request, "2.53") and parse_bool(
                request.query.get("with_servers")
            ):
                view = _with_servers(request, view)
            return json_body({"hypervisor": view})
    raise NovaFault(404, f"Hypervisor with ID '{wanted}' could not be found.")


def aggregates(state: RegionState) -> list[Aggregate]:
    """The scenario's aggregates, plus one per AZ that hosts name but no aggregate carries."""
    declared = list(state.scenario.aggregates)
    covered = {a.availability_zone for a in declared if a.availability_zone}
    zones: dict[str, list[str]] = {}
    for name, host in state.scenario.hosts.items():
        if host.az != "nova" and host.az not in covered:
            zones.setdefault(host.az, []).append(name)
    implicit = [
        Aggregate(name=f"agg-{az}", availability_zone=az, hosts=h)
        for az, h in zones.items()
    ]
    added = state.added_aggregate_hosts
    return [
        agg.model_copy(update={"hosts": [*agg.hosts, *added[agg.name]]})
        if agg.name in added
        else agg
        for agg in implicit + declared
    ]


def aggregate_view(request: web.Request, index: int, agg: Aggregate) -> dict[str, Any]:
    state = state_of(request)
    metadata = dict(agg.metadata)
    if agg.availability_zone:
        metadata["availability_zone"] = agg.availability_zone
    view: dict[str, Any] = {
        "availability_zone": agg.availability_zone,
        "created_at": iso(state.now - timedelta(days=30, seconds=-index)),
        "deleted": False,
        "deleted_at": None,
        "hosts": list(agg.hosts),
        "id": index,
        "metadata": metadata,
        "name": agg.name,
        "updated_at": None,
    }
    if at_least(request, "2.41"):
        view["uuid"] = stable_uuid(state.scenario.name, "aggregate", agg.name)
    return view


async def list_aggregates(request: web.Request) -> web.Response:
    require_admin(request, "os_compute_api:os-aggregates:index")
    rows = [
        aggregate_view(request, i, a)
        for i, a in enumerate(aggregates(state_of(request)), 1)
    ]
    return json_body({"aggregates": rows})


async def show_aggregate(request: web.Request) -> web.Response:
    require_admin(request, "os_compute_api:os-aggregates:show")
    wanted = request.match_info["aggregate_id"]
    for index, agg in enumerate(aggregates(state_of(request)), start=1):
        if str(index) == wanted:
            return json_body({"aggregate": aggregate_view(request, index, agg)})
    raise NovaFault(404, f"Aggregate {wanted} could not be found.")


def _zones(state: RegionState) -> dict[str, list[dict[str, Any]]]:
    zones: dict[str, list[dict[str, Any]]] = {}
    for row in services(state):
        zones.setdefault(row["zone"], []).append(row)
    # Nova lists the internal zone (controller services) after the compute zones
    return dict(sorted(zones.items(), key=lambda item: item[0] == "internal"))


async def availability_zones(request: web.Request) -> web.Response:
    """GET /os-availability-zone: compute zones only, hosts null."""
    info = []
    for zone, rows in _zones(state_of(request)).items():
        if zone == "internal":
            continue
        available = any(r["status"] == "enabled" for r in rows)
        info.append(
            {"hosts": None, "zoneName": zone, "zoneState": {"available": available}}
        )
    return json_body({"availabilityZoneInfo": info})


async def availability_zones_detail(request: web.Request) -> web.Response:
    """GET /os-availability-zone/detail: enabled services per host, internal zone included."""
    require_admin(request, "os_compute_api:os-availability-zone:detail")
    info = []
    for zone, rows in _zones(state_of(request)).items():
        enabled = [r for r in rows if r["status"] == "enabled"]
        hosts: dict[str, dict[str, Any]] = {}
        for r in enabled:
            hosts.setdefault(r["host"], {})[r["binary"]] = {
                "active": True,
                "available": r["state"] == "up",
                "updated_at": iso(r["updated_at"]),
            }
        info.append({"hosts": hosts or None, "zoneName": zone,
                     "zoneState": {"available": bool(enabled)}})  # fmt: skip
    return json_body({"availabilityZoneInfo": info})


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/os-services", list_services)
    r.add_get(f"{prefix}/os-hypervisors", list_hypervisors)
    r.add_get(f"{prefix}/os-hypervisors/detail", list_hypervisors_detail)
    r.add_get(f"{prefix}/os-hypervisors/{{hypervisor_id}}", show_hypervisor)
    r.add_get(f"{prefix}/os-aggregates", list_aggregates)
    r.add_get(f"{prefix}/os-aggregates/{{aggregate_id}}", show_aggregate)
    r.add_get(f"{prefix}/os-availability-zone", availability_zones)
    r.add_get(f"{prefix}/os-availability-zone/detail", availability_zones_detail)


__all__ = ["add_routes", "aggregate_view", "aggregates", "service_view", "services"]
