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
from typing import Any

from sim.scenario.model import Scenario

_NS = uuid.UUID("6f1c3d52-8a4e-4f0e-9a57-1c2b3d4e5f60")


def stable_uuid(*parts: str) -> str:
    """A uuid that is the same for the same scenario object every run."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


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
    # server id -> mutable server fields (status, vm_state, task_state, host, fault, ...)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    migrations: list[MigrationRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    # host name -> file path -> lines (ordered by time)
    host_logs: dict[str, dict[str, list[RenderedLogLine]]] = field(default_factory=dict)
    # deployment name -> lines
    pod_logs: dict[str, list[RenderedLogLine]] = field(default_factory=dict)
    # port id -> host -> binding dict (host, vif_type, vnic_type, status ACTIVE/INACTIVE, ...)
    port_bindings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # consumer uuid -> provider uuid -> resource class -> amount
    allocations: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # every command an SSH server received: (host, command line)
    ssh_commands: list[tuple[str, str]] = field(default_factory=list)
    # every notification emitted: (priority, event_type, payload envelope)
    notifications: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # token -> (user, project, roles)
    tokens: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)


def server_by_name(state: RegionState, name: str) -> dict[str, Any]:
    """The runtime dict of the server with this name (KeyError if none)."""
    for server in state.servers.values():
        if server["name"] == name:
            return server
    raise KeyError(name)
