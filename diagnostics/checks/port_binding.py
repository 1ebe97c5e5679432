"""Neutron cannot bind the VM's port on the destination (F6)."""

from __future__ import annotations

from dataclasses import replace

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of, on_host
from diagnostics.evidence.types import (
    AgentInfo,
    DestHostLogs,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    NetworkAgents,
    Ports,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    CouldNotCheck,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_PATTERNS = (
    sig.NO_OVN_CHASSIS,
    sig.DEAD_AGENT,
    sig.PHYSNET,
    sig.FAILED_TO_BIND,
    sig.BINDING_NOT_CREATED,
    sig.BINDING_FAILED,
    sig.ACTIVATE_FAILED,
    sig.VIF_TIMEOUT,
    sig.PCI_VIF,
)


@check(
    id="neutron.port-binding",
    title="Port cannot be bound on the destination",
    needs_any=(
        Ports,
        NetworkAgents,
        InstanceActions,
        SourceHostLogs,
        DestHostLogs,
        ManagementPlane,
    ),
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.PORT_BINDING,
    priority=740,
    step=2,
    summary="Neutron could not bind the port of {server_name} on {dest_host}: {reason}.",
    remediation=(
        r.check(
            r.host("{dest_host}"),
            "journalctl -u {agent_unit} -n 100 --no-pager",
            "Why the network agent stopped, before a restart hides it.",
            when="agent_unit",
        ),
        r.fix(
            r.host("{dest_host}"),
            "systemctl restart {agent_unit}",
            "Neutron binds ports only to hosts whose agent is alive.",
            when="agent_unit",
        ),
        r.check(
            r.CLI,
            "openstack port show {port_id} -c binding_vif_type -c binding_host_id "
            "-c status",
            "binding_failed here means Neutron could not bind the port.",
            when="port_id",
        ),
        r.check(
            r.CLI,
            "openstack port list --device-id {server_id} --long",
            "The VM's ports, to find the one that failed.",
            when="!port_id",
        ),
        r.check(
            r.CLI,
            "openstack network agent list --host {dest_host}",
            "Every agent on {dest_host} must be alive (:-) and UP.",
        ),
    ),
    references=(
        "https://docs.openstack.org/neutron/latest/contributor/internals/"
        "live_migration.html",
    ),
)
def port_binding(
    server: Server,
    records: MigrationRecords | None,
    ports: Ports | None,
    agents: NetworkAgents | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """Live migration first creates an inactive port binding for the destination; a
    failed binding ("Binding failed for port", binding_failed vif_type, "Refusing to
    bind ... dead agent" or no OVN chassis) skips that host. Later the VIF plug wait on
    the destination may time out. A dead network agent (OVS agent or ovn-controller) on
    the destination confirms; a dead agent alone is "possible". A stale INACTIVE binding
    on the destination explains a refused binding (``stale_leftovers`` is then primary).
    """
    move = move_of(records, server)
    dest = move.dest
    if move.retargeted:
        # --target-host: a dead agent on the target is said from Neutron's agents
        # alone; otherwise the failure texts and the destination's logs explain the
        # failure on the move's own destination, with that host's agents and bindings
        if _dead_agents(agents, move.dest):
            actions = source_logs = dest_logs = mgmt = None
            ports = replace(ports, ports=()) if ports is not None else None
        else:
            dest = move.failed_at
            dest_logs = on_host(dest_logs, dest)
    texts = gather(
        actions=actions, source_logs=source_logs, dest_logs=dest_logs, mgmt=mgmt
    )
    hit = texts.find(*_PATTERNS)
    failed_ports = [
        p for p in (ports.ports if ports else ()) if p.vif_type == "binding_failed"
    ]
    dead = _dead_agents(agents, dest)
    if hit is None and not failed_ports and not dead:
        unread = [
            n for n, e in (("ports", ports), ("network agents", agents)) if e is None
        ]
        if unread:
            return CouldNotCheck(
                why="no binding failure logged, but the "
                + " and the ".join(unread)
                + " could not be read from Neutron",
                needs="Neutron read access to ports and agents (admin for agents)",
            )
        return RuledOut(reason="ports bound, agents alive, no binding failure logged")
    if hit is not None:
        reason = hit.match.group(0).strip()[:200]
    elif failed_ports:
        reason = f"port {failed_ports[0].id} has binding:vif_type binding_failed"
    else:
        reason = f"{dead[0].agent_type} on {dest} is not alive"
    agent_unit = ""
    if dead:
        reason += f"; {dead[0].agent_type} on {dest} is down"
        agent_unit = dead[0].binary or "ovn-controller"
    candidates = [
        hit.get("port") if hit is not None else "",
        *(p.id for p in failed_ports),
        *(p.id for p in (ports.ports if ports else ())),
    ]
    port_id = next((c for c in candidates if c), "")
    signals = sum(map(bool, (hit, failed_ports, dead)))
    if hit is None and not failed_ports:
        confidence = Confidence.POSSIBLE
    else:
        confidence = Confidence.CONFIRMED if signals > 1 else Confidence.LIKELY
    # an INACTIVE binding already on the destination makes Neutron refuse a new one:
    # the leftover is the deeper cause (stale_leftovers), this failure its consequence
    stale = any(
        b.host == dest and b.status == "INACTIVE"
        for p in (ports.ports if ports else ())
        for b in p.bindings
    )
    return Concluded(
        explained_by=frozenset({RootCauseId.STALE_LEFTOVERS}) if stale else frozenset(),
        # when the leftover cannot be shown to be the cause (the conductor's "already
        # exists" unread), the operator still sees it as the rival it may be
        not_ruled_out=(
            f"a leftover INACTIVE binding on {dest} from an earlier attempt "
            "(Neutron refuses a second binding of the port on that host)",
        )
        if stale
        else (),
        facts={
            "server_name": server.name,
            "dest_host": dest or "the destination host",
            "reason": reason,
            "port_id": port_id,
            "server_id": server.id,
            "agent_unit": agent_unit,
        },
        cites=cites(hit),
        confidence=confidence,
    )


def _dead_agents(agents: NetworkAgents | None, host: str | None) -> list[AgentInfo]:
    """The network agents on ``host`` that are not alive or not admin-up."""
    return [
        a for a in (agents.agents if agents else ())
        if a.host == host and not (a.alive and a.admin_state_up)
    ]  # fmt: skip
