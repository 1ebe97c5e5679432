"""The destination lacks RAM, disk or vCPU for the VM (F4)."""

from __future__ import annotations

from dataclasses import replace

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import (
    Hit,
    cites,
    gather,
    move_of,
    move_word,
    on_host,
    provider_for,
    retry_remedies,
)
from diagnostics.evidence.types import (
    ComputeServices,
    DestHostLogs,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    Placement,
    ProviderView,
    Server,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Citation,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_PATTERNS = (
    sig.LACK_OF_MEMORY,
    sig.DISK_TOO_LARGE,
    sig.PLACEMENT_REFUSED,
    sig.FORCED_HOST_CAPACITY,
    sig.INSUFFICIENT_COMPUTE,
    sig.ALLOCATION_RACE,
)


@check(
    id="placement.insufficient-resources",
    title="Destination lacks capacity for the VM",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.INSUFFICIENT_RESOURCES,
    priority=720,
    step=5,
    summary="{dest_host} cannot hold {server_name} (flavor {flavor}): {shortage}.",
    remediation=(
        r.check(
            r.pod("nova-conductor"),
            "nova-manage placement audit --verbose --resource_provider {rp_uuid}",
            "Lists allocations on {dest_host} that no instance or migration owns "
            "any more (leaked by failed moves).",
            when="rp_uuid",
        ),
        r.fix(
            r.pod("nova-conductor"),
            "nova-manage placement audit --delete --resource_provider {rp_uuid}",
            "Deletes exactly the orphaned allocations the audit listed.",
            when="rp_uuid",
        ),
        *retry_remedies("Lets the scheduler pick a host with room.", None),
        r.check(
            r.CLI,
            "openstack resource provider usage show {rp_uuid}",
            "What is used on {dest_host} now.",
            when="rp_uuid",
        ),
        r.check(
            r.CLI,
            "openstack resource provider list --name {dest_host}",
            "The provider of {dest_host}, to read its inventory and usage.",
            when="!rp_uuid",
        ),
        r.check(
            r.CLI,
            "openstack --os-placement-api-version 1.10 allocation candidate list "
            "--resource VCPU={vcpus} --resource MEMORY_MB={ram_mb} "
            "--resource DISK_GB={disk_gb}",
            "The hosts Placement could still fit the flavor on.",
            when="disk_gb",
        ),
        r.check(
            r.CLI,
            "openstack --os-placement-api-version 1.10 allocation candidate list "
            "--resource VCPU={vcpus} --resource MEMORY_MB={ram_mb}",
            "The hosts Placement could still fit the flavor on.",
            when="!disk_gb",
        ),
    ),
    references=(
        "https://docs.openstack.org/placement/latest/usage/provider-tree.html",
    ),
)
def insufficient_resources(
    server: Server,
    records: MigrationRecords | None,
    placement: Placement | None,
    actions: InstanceActions | None,
    dest_logs: DestHostLogs | None,
    mgmt: ManagementPlane | None,
    services: ComputeServices | None = None,
) -> CheckOutcome:
    """Nova refuses a destination without room: "Lack of memory" and "Disk of instance
    is too large" in the pre-checks, a resource-tracker claim failure (NUMA, PCI,
    hugepages), or Placement refusing the allocation. Placement's free capacity on the
    destination (inventory minus reserved, times allocation ratio, minus usage) against
    the flavor confirms; a shortage beside a generic "No valid host" is "likely"; a
    shortage seen in Placement alone is "possible". NoValidHost is capacity's doing only
    if the destination's compute service was up: a down or disabled one explains it
    first (``compute_service_down``), and an unknown one is said.
    """
    move = move_of(records, server)
    flavor = server.flavor
    need = {
        "VCPU": flavor.vcpus,
        "MEMORY_MB": flavor.ram_mb,
        "DISK_GB": flavor.disk_gb + flavor.ephemeral_gb + -(-flavor.swap_mb // 1024),
    }
    dest = move.dest
    if move.retargeted:
        # --target-host: the failure texts and the destination's logs are about the
        # move's own destination. A target short of room is said from its
        # Placement numbers alone; else the past failure is explained on its host.
        if _shortage(provider_for(placement, move.dest), need):
            actions, mgmt, server = None, None, replace(server, fault=None)
            dest_logs = None
        else:
            dest = move.failed_at
            dest_logs = on_host(dest_logs, dest)
    texts = gather(actions=actions, server=server, dest_logs=dest_logs, mgmt=mgmt)
    hit = texts.find(*_PATTERNS)
    rp = provider_for(placement, dest)
    short = _shortage(rp, need)
    if hit is None and not short:
        if rp is None and not texts.available:
            return Inconclusive(
                reason="no Placement view of the destination, no failure text"
            )
        if dest is None:
            return Inconclusive(reason="no destination host to measure")
        if rp is None:
            return CouldNotCheck(
                why=f"no capacity refusal logged, but Placement's view of {dest} "
                "could not be read",
                needs="Placement read access (admin by default policy)",
            )
        return RuledOut(reason="no capacity refusal and the destination has room")
    shortage = "; ".join(short) or _describe(hit)
    # Placement's numbers are a measurement, not a guess: with Nova's generic "No valid
    # host" beside them, two independent sources point at capacity.
    scheduling = (
        texts.find(sig.NO_VALID_HOST, sig.NO_VALID_HOST_COLD) if hit is None else None
    )
    caveats: list[str] = []
    explained_by: frozenset[RootCauseId] = frozenset()
    if scheduling is not None:
        svc = services.on(dest) if services is not None else None
        if services is None:
            caveats.append(
                f"the compute service of {dest_name(dest)} being down or disabled "
                "(os-services could not be read)"
            )
        elif svc is None or svc.state != "up" or svc.status != "enabled":
            explained_by = frozenset({RootCauseId.COMPUTE_SERVICE_DOWN})
    if hit is not None and short:
        confidence = Confidence.CONFIRMED
    elif hit is not None or scheduling is not None:
        confidence = Confidence.LIKELY
    else:
        confidence = Confidence.POSSIBLE
    placement_cite = (
        (
            Citation(
                source=placement.call_with(rp.uuid, "usages"),
                text=f"{rp.name}: {shortage}",
            ),
        )
        if short and placement is not None and rp is not None
        else ()
    )
    rp_uuid = rp.uuid if rp is not None else (hit.get("rp") if hit is not None else "")
    return Concluded(
        facts={
            "server_name": server.name,
            "flavor": flavor.name,
            "dest_host": dest
            or (hit.get("host") if hit is not None else "")
            or "the destination",
            "shortage": shortage,
            "rp_uuid": rp_uuid,
            "server_id": server.id,
            "move": move_word(move.kind),
            "vcpus": str(need["VCPU"]),
            "ram_mb": str(need["MEMORY_MB"]),
            "disk_gb": str(need["DISK_GB"]) if need["DISK_GB"] > 0 else "",
        },
        cites=cites(hit, scheduling) + placement_cite,
        confidence=confidence,
        explained_by=explained_by,
        not_ruled_out=tuple(caveats),
    )


def _shortage(rp: ProviderView | None, need: dict[str, int]) -> list[str]:
    """What the provider lacks for the flavor, by Placement's numbers (free < needed)."""
    short = []
    for rc, amount in need.items():
        free = rp.free(rc) if rp is not None else None
        if free is not None and amount > 0 and free < amount:
            short.append(f"{rc} needs {amount}, {max(free, 0)} free")
    return short


def dest_name(host: str | None) -> str:
    return host or "the destination"


def _describe(hit: Hit | None) -> str:
    if hit is None:
        return "not enough free capacity"
    p = hit.match.re
    if p is sig.LACK_OF_MEMORY:
        return f"lack of memory (host {hit.get('avail')} MB <= instance {hit.get('need')} MB)"
    if p is sig.DISK_TOO_LARGE:
        return f"disk too large (available {hit.get('avail')} < need {hit.get('need')})"
    if p is sig.PLACEMENT_REFUSED:
        return f"Placement refused {hit.get('rc')}: the amount would {hit.get('why')}"
    if p is sig.INSUFFICIENT_COMPUTE:
        return f"insufficient compute resources: {hit.get('reason')}"
    return hit.cite.text
