"""Neutron cannot bind the VM's port on the destination (F6)."""

from __future__ import annotations

from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
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
    Inconclusive,
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
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.PORT_BINDING,
    priority=740,
    step=2,
    summary="Neutron could not bind the port of {server_name} on {dest_host}: {reason}.",
    remediation=(
        "openstack port show {port_id} -c binding:vif_type -c binding:host_id",
        "openstack network agent list --host {dest_host}",
        "{fix}",
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
    the destination confirms; a dead agent alone is "possible".
    """
    move = move_of(records, server)
    texts = gather(
        actions=actions, source_logs=source_logs, dest_logs=dest_logs, mgmt=mgmt
    )
    hit = texts.find(*_PATTERNS)
    failed_ports = [
        p for p in (ports.ports if ports else ()) if p.vif_type == "binding_failed"
    ]
    dead = [
        a for a in (agents.agents if agents else ())
        if a.host == move.dest and not (a.alive and a.admin_state_up)
    ]  # fmt: skip
    if hit is None and not failed_ports and not dead:
        if not (texts.available or ports or agents):
            return Inconclusive(reason="no ports, agents or failure text")
        return RuledOut(reason="ports bound, agents alive, no binding failure logged")
    if hit is not None:
        reason = hit.match.group(0).strip()[:200]
    elif failed_ports:
        reason = f"port {failed_ports[0].id} has binding:vif_type binding_failed"
    else:
        reason = f"{dead[0].agent_type} on {move.dest} is not alive"
    if dead:
        reason += f"; {dead[0].agent_type} on {move.dest} is down"
        fix = f"On {move.dest}: systemctl restart {dead[0].binary or 'ovn-controller'}"
    elif hit is not None and hit.match.re is sig.VIF_TIMEOUT:
        fix = (
            f"Check the network agent on {move.dest}; if the backend never sends the "
            "event, set [compute]live_migration_wait_for_vif_plug=False there"
        )
    else:
        fix = "Read the neutron-server log for the port around the failure time"
    candidates = [
        hit.get("port") if hit is not None else "",
        *(p.id for p in failed_ports),
        *(p.id for p in (ports.ports if ports else ())),
    ]
    any_port = f"$(openstack port list --device-id {server.id} -f value -c ID)"
    port_id = next((c for c in candidates if c), any_port)
    signals = sum(map(bool, (hit, failed_ports, dead)))
    if hit is None and not failed_ports:
        confidence = Confidence.POSSIBLE
    else:
        confidence = Confidence.CONFIRMED if signals > 1 else Confidence.LIKELY
    return Concluded(
        facts={
            "server_name": server.name,
            "dest_host": move.dest or "the destination host",
            "reason": reason,
            "port_id": port_id,
            "fix": fix,
        },
        cites=cites(hit),
        confidence=confidence,
    )
