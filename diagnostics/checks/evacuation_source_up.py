"""Evacuation asked for a host whose compute service is still up (F7.2)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
    ComputeServices,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    Server,
)
from diagnostics.model import (
    CheckOutcome,
    Citation,
    Concluded,
    Confidence,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check


@check(
    id="nova.evacuation-source-up",
    title="Evacuation refused: the source compute service is still up",
    applies_to={MigrationKind.EVACUATION},
    root_cause=RootCauseId.EVACUATION_SOURCE_UP,
    priority=880,
    step=2,
    summary=(
        "Nova refused to evacuate {server_name}: the compute service on {source_host} "
        "is still up, and evacuation is only allowed from a host Nova considers down."
    ),
    remediation=(
        r.check(
            r.host("{source_host}"),
            "systemctl is-active pf9-ostackhost libvirtd",
            "If this answers, {source_host} is alive: live migrate instead, and "
            "evacuate only a host that is powered off or fenced.",
        ),
        r.fix(
            r.CLI,
            "openstack compute service set --down {source_host} nova-compute",
            "Tells Nova the fenced host is down, which evacuation requires.",
        ),
        r.fix(
            r.CLI,
            "openstack server evacuate {server_id}",
            "Rebuilds the VM on a host the scheduler picks.",
        ),
        r.fix(
            r.host("{source_host}"),
            "systemctl restart pf9-ostackhost",
            "Once {source_host} is repaired: nova-compute's start-up removes the "
            "evacuated VMs' leftovers and closes their done evacuation records, "
            "without which Nova refuses --up.",
        ),
        r.fix(
            r.CLI,
            "openstack compute service set --up {source_host} nova-compute",
            "After that restart, undo --down so Nova uses the host again.",
        ),
        r.check(
            r.CLI,
            "openstack server show {server_id} -c status -c OS-EXT-SRV-ATTR:host",
            "The VM must be ACTIVE on its new host.",
        ),
    ),
    references=("https://docs.openstack.org/nova/latest/admin/evacuate.html",),
)
def evacuation_source_up(
    server: Server,
    records: MigrationRecords | None,
    services: ComputeServices | None,
    actions: InstanceActions | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """Nova rejects an evacuation with 400 "Compute service of X is still in use" when
    the VM's host still reports up: the request never gets a migration record, so the
    API answer, the nova-api log and the service state are the evidence. The service
    state and the refusal text agreeing is "confirmed".
    """
    move = move_of(records, server)
    source = move.source
    if move.record is not None and not move.failed:
        return RuledOut(reason=f"the evacuation is {move.status}, not refused")
    texts = gather(actions=actions, server=server, mgmt=mgmt)
    hit = texts.find(sig.SERVICE_IN_USE)
    svc = services.on(source) if services is not None and source else None
    up = svc is not None and svc.state == "up" and not svc.forced_down
    if hit is None and not up:
        if svc is None and not texts.available:
            return Inconclusive(
                reason="no service state for the source and no failure text"
            )
        return RuledOut(reason=f"the compute service on {source} is down")
    if source is None and hit is not None:
        source = hit.get("host") or hit.get("log_host") or None
    api_cite: tuple[Citation, ...] = ()
    if up and services is not None and svc is not None:
        api_cite = (
            Citation(
                source=services.provenance, text=f"nova-compute {svc.host}: state=up"
            ),
        )
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "source_host": source or "the source host",
        },
        cites=api_cite + cites(hit),
        confidence=Confidence.CONFIRMED if hit and up else Confidence.LIKELY,
    )
