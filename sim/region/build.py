"""Materialize a Scenario into a RegionState: ids, bindings, allocations, logs, history.

Every service module answers from the RegionState this builds, so the same server id,
port id and migration record show up in Nova, Neutron, Placement and on the hosts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sim.region.identity import ADMIN_USER, project_id, provider_uuid, user_id
from sim.region.outcome import apply_outcome
from sim.region.render import add_log_lines, render_log_line
from sim.region.state import (
    ActionEventRow,
    ActionRow,
    PortBinding,
    RegionState,
    ServerRow,
    server_by_name,
    stable_uuid,
)
from sim.scenario.model import Scenario, Server
from sim.scenario.times import resolve_time

# PCD's Block Storage role logs cinder-volume here (a storage node always has the file)
CINDER_VOLUME_LOG = "/var/log/pf9/cindervolume-base.log"


def _port_id(scenario: Scenario, server: Server, index: int) -> str:
    port = server.ports[index]
    return port.id or stable_uuid(scenario.name, "port", server.name, str(index))


def _volume_id(scenario: Scenario, server: Server, index: int) -> str:
    volume = server.volumes[index]
    return volume.id or stable_uuid(scenario.name, "volume", volume.name)


def _binding(
    server: Server, index: int, host: str, status: Literal["ACTIVE", "INACTIVE"]
) -> PortBinding:
    port = server.ports[index]
    vif_type = port.vif_type if status == "ACTIVE" else "unbound"
    details: dict[str, Any] = (
        {"port_filter": True, "connectivity": "l2", "bound_drivers": {"0": "ovn"}}
        if vif_type == "ovs"
        else {}
    )
    return {
        "host": host,
        "vif_type": vif_type,
        "vnic_type": port.vnic_type,
        "status": status,
        "profile": dict(port.profile),
        "vif_details": details,
    }


def _server_runtime(
    state: RegionState, server: Server, index: int, created: datetime
) -> ServerRow:
    scenario = state.scenario
    host = scenario.hosts.get(server.host)
    return {
        "id": server.id or stable_uuid(scenario.name, "server", server.name),
        "name": server.name,
        "project": server.project,
        "project_id": project_id(scenario, server.project),
        "user_id": user_id(scenario, ADMIN_USER),
        "flavor": server.flavor,
        "host": server.host,
        "node": server.host,
        "status": server.status,
        "vm_state": server.vm_state,
        "task_state": server.task_state,
        "power_state": server.power_state,
        "locked": server.locked,
        "availability_zone": server.availability_zone or (host.az if host else "nova"),
        "pinned_availability_zone": server.pinned_availability_zone,
        "fault": None,
        "instance_name": server.instance_name or f"instance-{index:08x}",
        "created_at": created,
        "launched_at": created + timedelta(seconds=8),
        "updated_at": created + timedelta(seconds=9),
        "image_properties": dict(server.image_properties),
        "boot_from_volume": server.boot_from_volume,
        "port_ids": [_port_id(scenario, server, i) for i in range(len(server.ports))],
        "volume_ids": [
            _volume_id(scenario, server, i) for i in range(len(server.volumes))
        ],
        "spec": server,  # the scenario object, for fields that never change
    }


def _create_action(state: RegionState, runtime: ServerRow) -> ActionRow:
    """The ``create`` action every server has (as in live/servers/*/os-instance-actions)."""
    start = runtime["created_at"]
    events = [
        ActionEventRow(
            event="compute__do_build_and_run_instance",
            start_time=start + timedelta(milliseconds=700),
            finish_time=start + timedelta(milliseconds=1400),
            result="Success",
            traceback=None,
            host=runtime["host"],
            details=None,
        )
    ]
    return ActionRow(
        action="create",
        instance_uuid=runtime["id"],
        request_id="req-" + stable_uuid(state.scenario.name, "create", runtime["name"]),
        user_id=runtime["user_id"],
        project_id=runtime["project_id"],
        start_time=start,
        updated_at=start + timedelta(milliseconds=1400),
        message=None,
        events=events,
    )


def _earliest(server: Server, now: datetime) -> datetime:
    times = [resolve_time(o.at, now) for o in server.history]
    return min(times, default=now) - timedelta(days=2)


def build_state(scenario: Scenario, now: datetime | None = None) -> RegionState:
    """Materialize the scenario: servers, bindings, allocations, logs, then history."""
    now = now or datetime.now(UTC)
    state = RegionState(scenario=scenario, now=now)
    flavors = {f.name: f for f in scenario.flavors}
    for index, server in enumerate(scenario.servers, start=1):
        runtime = _server_runtime(state, server, index, _earliest(server, now))
        sid = runtime["id"]
        state.servers[sid] = runtime
        state.actions.append(_create_action(state, runtime))
        for i, port_id in enumerate(runtime["port_ids"]):
            port = server.ports[i]
            bindings = state.port_bindings.setdefault(port_id, {})
            active_host = port.binding_host or server.host
            bindings[active_host] = _binding(server, i, active_host, "ACTIVE")
            for stale in port.inactive_binding_hosts:
                bindings[stale] = _binding(server, i, stale, "INACTIVE")
        flavor = flavors.get(server.flavor)
        if flavor is not None:
            resources = {"VCPU": flavor.vcpus, "MEMORY_MB": flavor.ram}
            if not server.boot_from_volume and flavor.disk:
                resources["DISK_GB"] = flavor.disk
            state.allocations[sid] = {provider_uuid(scenario, server.host): resources}
    for host_name, host in scenario.hosts.items():
        if host.cinder_volume:  # the storage role's log exists, if only empty
            state.host_logs.setdefault(host_name, {}).setdefault(CINDER_VOLUME_LOG, [])
        for path, lines in host.logs.items():
            rendered = [render_log_line(host_name, path, ln, {}, now) for ln in lines]
            add_log_lines(state, host_name, path, rendered)
    for pod in scenario.pods:
        rendered = [
            render_log_line(pod.deployment, "pod", ln, {}, now) for ln in pod.logs
        ]
        add_log_lines(state, "mgmt:" + pod.deployment, "", rendered)
    # history runs in time order across servers, so migration ids grow with time as in Nova
    history = [
        (
            resolve_time(outcome.at, now),
            server_by_name(state, server.name)["id"],
            outcome,
        )
        for server in scenario.servers
        for outcome in server.history
    ]
    for _, sid, outcome in sorted(history, key=lambda item: item[0]):
        apply_outcome(state, sid, outcome, now)
    return state
