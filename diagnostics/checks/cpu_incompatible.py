"""The destination CPU cannot run the guest CPU (F3)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of, on_host, provider_for
from diagnostics.evidence.types import (
    DestCpu,
    DestHostLogs,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    Placement,
    Server,
    SourceCpu,
    SourceHostLogs,
)
from diagnostics.model import (
    CheckOutcome,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check


def _trait_gap(
    placement: Placement | None, source: str | None, dest: str | None
) -> set[str]:
    src, dst = provider_for(placement, source), provider_for(placement, dest)
    if src is None or dst is None:
        return set()
    return {t for t in src.traits - dst.traits if t.startswith("HW_CPU_")}


@check(
    id="libvirt.cpu-incompatible",
    title="Destination CPU is incompatible with the guest CPU",
    applies_to={MigrationKind.LIVE},
    root_cause=RootCauseId.CPU_INCOMPATIBLE,
    priority=780,
    step=5,
    summary=(
        "The CPU of {dest_host} cannot run the guest CPU of {server_name} from "
        "{source_host}: missing {missing}."
    ),
    remediation=(
        r.fix(
            r.CLI,
            "openstack server migrate --live-migration {server_id}",
            "Without --host the conductor tries other hosts and skips those whose CPU "
            "cannot run the guest.",
        ),
        r.check(
            r.host("{source_host}"),
            "virsh -r domcapabilities | grep -A3 'mode name'",
            "The CPU models the source offers the guest.",
        ),
        r.check(
            r.host("{dest_host}"),
            "virsh -r domcapabilities | grep -A3 'mode name'",
            "The destination must offer the same model or a newer one; otherwise set "
            "[libvirt]cpu_mode=custom with a baseline both support.",
        ),
    ),
    references=(
        "https://docs.openstack.org/nova/latest/admin/cpu-models.html",
        "https://github.com/OpenNebula/one/issues/1688",
    ),
)
def cpu_incompatible(
    server: Server,
    records: MigrationRecords | None,
    source_cpu: SourceCpu | None,
    dest_cpu: DestCpu | None,
    placement: Placement | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """The destination compares the guest CPU with its own ("Unacceptable CPU info") in
    the pre-checks, and libvirt refuses at migration start when features are missing.
    lscpu flags the source has and the destination lacks, or Placement HW_CPU_* traits
    the same way, confirm it. A flag gap without any CPU error is only "possible": the
    guest may use a baseline model that does not need those flags.
    """
    move = move_of(records, server)
    dest = move.dest
    if move.retargeted:
        # --target-host: the target's CPU (lscpu, traits) alone says whether it can
        # run the guest; the failure texts are about the move's own destination,
        # judged with that host's traits (its lscpu was not read)
        if _flag_gap(source_cpu, dest_cpu) | _trait_gap(placement, move.source, dest):
            actions = source_logs = dest_logs = mgmt = None
        else:
            dest, dest_cpu = move.failed_at, None
            dest_logs = on_host(dest_logs, dest)
    texts = gather(
        actions=actions, source_logs=source_logs, dest_logs=dest_logs, mgmt=mgmt
    )
    hit = texts.find(
        sig.MISSING_FEATURES, sig.UNACCEPTABLE_CPU, sig.HYPERVISOR_MISMATCH
    )
    gap = _flag_gap(source_cpu, dest_cpu) | _trait_gap(placement, move.source, dest)
    if hit is None and not gap:
        have_cpus = source_cpu is not None and dest_cpu is not None
        if not (texts.available or have_cpus or placement is not None):
            return Inconclusive(reason="no CPU data and no failure text")
        if not have_cpus and placement is None:
            return CouldNotCheck(
                why="no CPU error logged, but neither lscpu on both hosts nor "
                "Placement's CPU traits could be read",
                needs="SSH to both hypervisors, or Placement read access",
            )
        return RuledOut(reason="no CPU error and no missing CPU flags")
    features = hit.get("features").strip() if hit is not None else ""
    missing = ", ".join(sorted(gap)) or features or "features the guest CPU requires"
    if hit is not None and gap:
        confidence = Confidence.CONFIRMED
    else:
        confidence = Confidence.LIKELY if hit is not None else Confidence.POSSIBLE
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "source_host": move.source or "the source host",
            "dest_host": dest or "the destination host",
            "missing": missing,
        },
        cites=cites(hit),
        confidence=confidence,
    )


def _flag_gap(source_cpu: SourceCpu | None, dest_cpu: DestCpu | None) -> set[str]:
    """lscpu flags the source has and the destination lacks (empty: one not read)."""
    if source_cpu is None or dest_cpu is None:
        return set()
    return set(source_cpu.flags - dest_cpu.flags)
