"""The destination is outside the availability zone the VM is pinned to (F2)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of, move_word, retry_remedies
from diagnostics.evidence.types import (
    Aggregates,
    AvailabilityZones,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    Server,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check


@check(
    id="nova.az-mismatch",
    title="Destination is in another availability zone",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.AZ_AGGREGATE_MISMATCH,
    priority=690,
    step=6,
    summary=(
        "{server_name} is pinned to availability zone {requested_az}, but {dest_host} "
        "is in {dest_az}; the scheduler cannot place it there."
    ),
    remediation=(
        *retry_remedies(
            "Retries the move to {az_host}, a host of {requested_az}.", "az_host"
        ),
        r.check(
            r.CLI,
            "openstack availability zone list --compute --long",
            "The zones and the hosts in each.",
        ),
        r.check(
            r.CLI,
            "openstack server show {server_id} -c OS-EXT-AZ:availability_zone",
            "The zone the VM is in now.",
        ),
    ),
    references=(
        "https://docs.openstack.org/nova/latest/admin/availability-zones.html",
    ),
)
def az_mismatch(
    server: Server,
    records: MigrationRecords | None,
    zones: AvailabilityZones | None,
    aggregates: Aggregates | None,
    mgmt: ManagementPlane | None,
    actions: InstanceActions | None,
) -> CheckOutcome:
    """Since the AZ filter was removed, Nova turns the VM's requested AZ into a Placement
    member_of query, so a destination in another zone shows up only as "No valid host"
    with "Got no allocation candidates" (or, on old releases, the AZ filter's line).
    Compares pinned_availability_zone (2.96+) with the destination's zone from the AZ
    list or its aggregates; the scheduler log agreeing makes it confirmed.
    """
    move = move_of(records, server)
    texts = gather(actions=actions, server=server, mgmt=mgmt)
    az_line = texts.find(sig.AZ_REQUESTED, sig.CINDER_AZ)
    requested = server.pinned_availability_zone or (
        az_line.get("az") if az_line else ""
    )
    if not requested:
        return RuledOut(reason="the VM is not pinned to an availability zone")
    if move.dest is None:
        return Inconclusive(reason="no destination host to compare with")
    dest_az = zones.zone_of(move.dest) if zones is not None else None
    if dest_az is None and aggregates is not None:
        dest_az = next(
            (
                a.availability_zone
                for a in aggregates.of_host(move.dest)
                if a.availability_zone
            ),
            None,
        )
    if dest_az is None and az_line is None:
        if zones is None and aggregates is None:
            return CouldNotCheck(
                why=f"the availability zone of {move.dest} is unknown: availability "
                "zones and aggregates could not be read",
                needs="the admin os-availability-zone/detail and os-aggregates APIs",
            )
        dest_az = "nova"  # hosts in no zone aggregate are in the default zone
    if dest_az == requested:
        return RuledOut(reason=f"{move.dest} is in {requested}")
    scheduler = texts.find(sig.NO_CANDIDATES, sig.AZ_REQUESTED, sig.CINDER_AZ)
    hosts = zones.zones.get(requested, ()) if zones is not None else ()
    candidates = [h for h in hosts if h not in (move.source, move.dest)]
    return Concluded(
        facts={
            "server_name": server.name,
            "requested_az": requested,
            "dest_host": move.dest,
            "dest_az": dest_az or "another zone",
            "az_hosts": ", ".join(candidates) or "none listed",
            "server_id": server.id,
            "move": move_word(move.kind),
            "az_host": next(iter(candidates), ""),
        },
        cites=cites(scheduler, az_line),
        confidence=Confidence.CONFIRMED if scheduler else Confidence.LIKELY,
    )
