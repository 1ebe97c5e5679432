"""A leftover from an earlier attempt made this attempt fail (failure-signatures §0.9)."""

from __future__ import annotations

from diagnostics import signatures as sig
from diagnostics.checks._common import Hit, cites, gather, move_of
from diagnostics.checks._leftovers import find_leftovers
from diagnostics.evidence.types import (
    DestHostLogs,
    DestLeftovers,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
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

LEFTOVER_SIGNS = (sig.BINDING_EXISTS, sig.DISK_EXISTS, sig.DOMAIN_ACTIVE)


def _from_text(hit: Hit, dest: str) -> tuple[str, str]:
    if hit.match.re is sig.BINDING_EXISTS:
        port, host = hit.get("port"), hit.get("host")
        return (
            f"port {port} already has a binding on {host}",
            f"Delete the stale binding (Neutron API): DELETE /v2.0/ports/{port}/bindings/{host}",
        )
    if hit.match.re is sig.DISK_EXISTS:
        path = hit.get("path")
        return (
            f"disk path {path} already exists on {dest}",
            f"On {dest}: mv {path} {path}.stale",
        )
    dom = hit.get("dom")
    return (
        f"libvirt domain {dom} is already active on {dest}",
        f"Run virsh -r list --all on both hosts; if {dest} holds a stale copy of {dom}, "
        f"virsh destroy {dom} and virsh undefine {dom} there",
    )


@check(
    id="nova.stale-leftovers",
    title="Leftover from an earlier attempt blocked the migration",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.STALE_LEFTOVERS,
    priority=850,
    step=7,
    summary="The move of {server_name} failed because {leftover}.",
    remediation=("{cleanup}", "Then retry: {retry}"),
    references=(
        "https://github.com/bigstack-oss/cubecos/issues/1440",
        "https://github.com/risuorg/risu",
    ),
)
def stale_leftovers(
    server: Server,
    records: MigrationRecords | None,
    leftovers: DestLeftovers | None,
    ports: Ports | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """A failed migration can leave an inactive port binding, an instance directory or a
    libvirt domain on the destination; the next attempt then fails with "Binding for
    port ... already exists", DestinationDiskExists or "domain ... is already active".
    The failure text is "likely"; the leftover still present on the destination (probe
    or Neutron bindings) makes it "confirmed".
    """
    move = move_of(records, server)
    texts = gather(
        actions=actions, server=server, source_logs=source_logs, dest_logs=dest_logs,
        mgmt=mgmt,
    )  # fmt: skip
    hit = texts.find(*LEFTOVER_SIGNS)
    if hit is None:
        if not texts.available:
            return Inconclusive(reason="no failure text to read")
        return RuledOut(reason="the failure text names no leftover")
    dest = move.dest or hit.get("host") or "the destination host"
    leftover, cleanup = _from_text(hit, dest)
    still_there = find_leftovers(server, move, leftovers, ports, None)
    retry = f"openstack server migrate --live-migration --host {dest} {server.id}"
    if move.kind and move.kind != "live-migration":
        retry = f"openstack server migrate --host {dest} {server.id}"
    return Concluded(
        facts={
            "server_name": server.name,
            "leftover": leftover,
            "cleanup": cleanup,
            "retry": retry,
        },
        cites=cites(hit) + tuple(x.cite for x in still_there),
        confidence=Confidence.CONFIRMED if still_there else Confidence.LIKELY,
    )
