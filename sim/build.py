"""Materialize a Scenario into a RegionState: ids, bindings, allocations, logs, history.

Every service module answers from the RegionState this builds, so the same server id,
port id and migration record show up in Nova, Neutron, Placement and on the hosts.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sim.scenario import LogLine, Scenario, Server, resolve_time
from sim.state import (
    ActionEventRow,
    ActionRow,
    RegionState,
    RenderedLogLine,
    stable_uuid,
)

ADMIN_USER = "admin"
ADMIN_PASSWORD = "sim-admin-password"
ADMIN_PROJECT = "admin"
MEMBER_USER = "demo"
MEMBER_PASSWORD = "sim-demo-password"
MEMBER_PROJECT = "demo"
CONDUCTOR_HOST = "ctl-01"  # where nova-conductor records its instance-action events
_LEVEL_LIBVIRT = {"DEBUG": "debug", "INFO": "info", "WARNING": "warning"}


def project_id(scenario: Scenario, project: str) -> str:
    """Keystone-style 32-hex project id for a project name."""
    return stable_uuid(scenario.name, "project", project).replace("-", "")


def user_id(scenario: Scenario, user: str) -> str:
    """Keystone-style 32-hex user id for a user name."""
    return stable_uuid(scenario.name, "user", user).replace("-", "")


def provider_uuid(scenario: Scenario, host: str) -> str:
    """The compute-node resource provider uuid of a host (also the hypervisor uuid)."""
    return stable_uuid(scenario.name, "rp", host)


def server_by_name(state: RegionState, name: str) -> dict[str, Any]:
    """The runtime dict of the server with this name (KeyError if none)."""
    for server in state.servers.values():
        if server["name"] == name:
            return server
    raise KeyError(name)


class _Keep(dict[str, str]):
    """format_map mapping that leaves unknown {placeholders} untouched."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_text(text: str, context: Mapping[str, Any]) -> str:
    """Substitute ``{placeholders}`` from context; unknown ones stay as written."""
    values = _Keep({k: "" if v is None else str(v) for k, v in context.items()})
    try:
        return string.Formatter().vformat(text, (), values)
    except (ValueError, IndexError):
        # text with stray braces (a JSON snippet in a log line) is left as written
        return text


def _pid(owner: str, path: str) -> int:
    """A stable, plausible process id for the daemon writing ``path`` on ``owner``."""
    digest = hashlib.sha256(f"{owner}:{path}".encode()).digest()
    return 1000 + int.from_bytes(digest[:2], "big") % 30000


def render_log_line(
    host_or_pod: str,
    path: str,
    line: LogLine,
    context: Mapping[str, Any],
    now: datetime,
) -> RenderedLogLine:
    """Render one LogLine in the format the real daemon writes (docs/host-commands.md).

    - paths containing ``libvirtd``: ``2026-11-25 19:02:11.498+0000: 2211: error : <text>``;
      a logger of the form ``func:line`` is written before the text as libvirt does;
    - paths containing ``/qemu/``: ``2026-11-25T19:02:11.498571Z <text>``;
    - everything else (ostackhost.log, pod logs) is oslo.log with the request context
      ``[req-… <user> <project> - - default default]`` and ``[instance: <uuid>]``.
    """
    at = resolve_time(line.at, now)
    text = render_text(line.text, context)
    pid = _pid(host_or_pod, path)
    if "libvirtd" in path:
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
        level = _LEVEL_LIBVIRT.get(line.level, "error")
        func = f"{line.logger} : " if ":" in line.logger else ""
        return RenderedLogLine(at=at, text=f"{stamp}: {pid}: {level} : {func}{text}")
    if "/qemu/" in path:
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}Z"
        return RenderedLogLine(at=at, text=f"{stamp} {text}")
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"
    if line.request_id:
        req = render_text(line.request_id, context)
        user = context.get("user_id") or "-"
        project = context.get("project_id") or "-"
        ctx = f"[{req} {user} {project} - - default default]"
    else:
        ctx = "[-]"
    instance = ""
    if context.get("server_id") and "[instance:" not in text:
        instance = f"[instance: {context['server_id']}] "
    return RenderedLogLine(
        at=at, text=f"{stamp} {pid} {line.level} {line.logger} {ctx} {instance}{text}"
    )


def add_log_lines(
    state: RegionState, owner: str, path: str, lines: list[RenderedLogLine]
) -> None:
    """Append rendered lines to a host file or (``mgmt:<deployment>``) a pod stream."""
    if owner.startswith("mgmt:"):
        stream = state.pod_logs.setdefault(owner.removeprefix("mgmt:"), [])
    else:
        stream = state.host_logs.setdefault(owner, {}).setdefault(path, [])
    stream.extend(lines)
    stream.sort(key=lambda rendered: rendered.at)


def _port_id(scenario: Scenario, server: Server, index: int) -> str:
    port = server.ports[index]
    return port.id or stable_uuid(scenario.name, "port", server.name, str(index))


def _volume_id(scenario: Scenario, server: Server, index: int) -> str:
    volume = server.volumes[index]
    return volume.id or stable_uuid(scenario.name, "volume", volume.name)


def _binding(server: Server, index: int, host: str, status: str) -> dict[str, Any]:
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
) -> dict[str, Any]:
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


def _create_action(state: RegionState, runtime: dict[str, Any]) -> ActionRow:
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
    from sim.outcome import apply_outcome  # outcome imports helpers from this module

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
