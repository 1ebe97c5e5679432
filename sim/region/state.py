"""The running region's mutable state, derived from a Scenario.

Every service module (keystone, nova, placement, neutron, cinder, hosts, k8s) reads and
writes this one object, so a migration run through ``POST /servers/{id}/action`` shows up
everywhere at once: the migration record and instance action in Nova, the inactive binding
in Neutron, the allocation in Placement, the log lines on the hypervisors' SSH servers and
in the management-plane pods.

Ids are deterministic (uuid5 over the scenario name) so tests and docs can name them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from sim.region.faults import Fault
from sim.scenario.model import ComputeService, Scenario, Server

_NS = uuid.UUID("6f1c3d52-8a4e-4f0e-9a57-1c2b3d4e5f60")


def stable_uuid(*parts: str) -> str:
    """A uuid that is the same for the same scenario object every run."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


class ServerFault(TypedDict):
    """The ``fault`` Nova records on an instance that went to ERROR."""

    code: int
    message: str
    details: str
    created: datetime


class ServerRow(TypedDict):
    """One server as the region holds it: what Nova's instances table would say now.

    Built once from the scenario's ``Server`` (``spec``, which never changes); the fields
    above ``spec`` change as migrations run (:class:`ServerUpdate`).
    """

    id: str
    name: str
    project: str
    project_id: str
    user_id: str
    flavor: str
    host: str
    node: str
    status: str
    vm_state: str
    task_state: str | None
    power_state: int
    locked: bool
    availability_zone: str
    pinned_availability_zone: str | None
    fault: ServerFault | None
    instance_name: str
    created_at: datetime
    launched_at: datetime
    updated_at: datetime
    image_properties: dict[str, str]
    boot_from_volume: bool
    port_ids: list[str]
    volume_ids: list[str]
    spec: Server  # the scenario's server, for fields that never change


class ServerUpdate(TypedDict, total=False):
    """The fields of a :class:`ServerRow` a migration attempt changes."""

    status: str
    vm_state: str
    task_state: str | None
    host: str
    node: str
    fault: ServerFault | None
    updated_at: datetime


def apply_update(row: ServerRow, update: ServerUpdate) -> None:
    """Write the fields a migration attempt changed into the server row (in place)."""
    if "status" in update:
        row["status"] = update["status"]
    if "vm_state" in update:
        row["vm_state"] = update["vm_state"]
    if "task_state" in update:
        row["task_state"] = update["task_state"]
    if "host" in update:
        row["host"] = update["host"]
    if "node" in update:
        row["node"] = update["node"]
    if "fault" in update:
        row["fault"] = update["fault"]
    if "updated_at" in update:
        row["updated_at"] = update["updated_at"]


class PortBinding(TypedDict):
    """One of a port's bindings (Neutron's ``/ports/{id}/bindings``), by host."""

    host: str
    vif_type: str
    vnic_type: str
    status: Literal["ACTIVE", "INACTIVE"]
    profile: dict[str, Any]
    vif_details: dict[str, Any]


# (priority, event_type, oslo.messaging envelope) of one versioned notification
NotificationRecord = tuple[str, str, dict[str, Any]]


@dataclass
class RenderedLogLine:
    """A log line as it sits in a file on a host (or a pod's stream)."""

    at: datetime
    text: str  # the full line, timestamp prefix included, as the real daemon writes it


@dataclass
class MigrationRow:
    """One row of Nova's migrations table (all fields; the API filters per microversion)."""

    id: int
    uuid: str
    instance_uuid: str
    migration_type: str
    status: str
    source_compute: str | None
    dest_compute: str | None
    source_node: str | None
    dest_node: str | None
    dest_host: str | None
    source_region: str
    dest_region: str
    old_instance_type_id: int
    new_instance_type_id: int
    created_at: datetime
    updated_at: datetime | None
    project_id: str
    user_id: str
    cross_cell_move: bool = False
    hidden: bool = False
    # memory_*/disk_* _bytes of an in-progress live migration (libvirt's job info)
    progress: dict[str, int] = field(default_factory=dict)


@dataclass
class ActionEventRow:
    event: str
    start_time: datetime
    finish_time: datetime | None
    result: str | None
    traceback: str | None
    host: str | None
    details: str | None


@dataclass
class ActionRow:
    action: str
    instance_uuid: str
    request_id: str
    user_id: str
    project_id: str
    start_time: datetime
    updated_at: datetime
    message: str | None
    events: list[ActionEventRow] = field(default_factory=list)


@dataclass
class RegionState:
    """Everything the simulated services answer from."""

    scenario: Scenario
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # server id -> the server now (status, vm_state, task_state, host, fault, ...)
    servers: dict[str, ServerRow] = field(default_factory=dict)
    migrations: list[MigrationRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    # host name -> file path -> lines (ordered by time)
    host_logs: dict[str, dict[str, list[RenderedLogLine]]] = field(default_factory=dict)
    # deployment name -> lines
    pod_logs: dict[str, list[RenderedLogLine]] = field(default_factory=dict)
    # port id -> host -> its binding on that host (ACTIVE on one host, INACTIVE leftovers)
    port_bindings: dict[str, dict[str, PortBinding]] = field(default_factory=dict)
    # consumer uuid -> provider uuid -> resource class -> amount
    allocations: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # every command an SSH server received: (host, command line)
    ssh_commands: list[tuple[str, str]] = field(default_factory=list)
    # every notification emitted: (priority, event_type, payload envelope)
    notifications: list[NotificationRecord] = field(default_factory=list)
    # token -> (user, project, roles)
    tokens: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    # host -> its nova-compute service once PUT /os-services changed it (else the scenario's)
    compute_services: dict[str, ComputeService] = field(default_factory=dict)
    # aggregate name -> hosts added with the add_host action (after the scenario's)
    added_aggregate_hosts: dict[str, list[str]] = field(default_factory=dict)
    # family -> the outage injected into it (sim.region.faults; empty: all healthy)
    faults: dict[str, Fault] = field(default_factory=dict)


def compute_service(state: RegionState, host: str) -> ComputeService:
    """The nova-compute service of ``host`` now (KeyError for an unknown host)."""
    return state.compute_services.get(host) or state.scenario.hosts[host].compute


def server_by_name(state: RegionState, name: str) -> ServerRow:
    """The server with this name (KeyError if none)."""
    for server in state.servers.values():
        if server["name"] == name:
            return server
    raise KeyError(name)
