"""Scheduling failed and nothing more specific was proven (F2, the generic fallback)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather
from diagnostics.evidence.types import (
    ComputeServices,
    InstanceActions,
    ManagementPlane,
    Server,
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

# NoValidHost is the symptom of every scheduling-time cause: any of these, when found,
# is the deeper cause and this finding its consequence
_DEEPER = frozenset(RootCauseId) - {
    RootCauseId.NO_VALID_HOST,
    RootCauseId.UNKNOWN,
    RootCauseId.MIGRATION_TIMEOUT,
    RootCauseId.LIBVIRT_TLS,
}


@check(
    id="nova.no-valid-host",
    title="No valid host found for the move",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.NO_VALID_HOST,
    priority=100,
    step=3,
    summary="Nova found no host that could take {server_name}: {detail}.",
    remediation=(
        r.check(
            r.CLI,
            "openstack compute service list --service nova-compute",
            "Hosts that are down or disabled are never candidates.",
        ),
        r.check(
            r.CLI,
            "openstack --os-placement-api-version 1.10 allocation candidate list "
            "--resource VCPU={vcpus} --resource MEMORY_MB={ram_mb} "
            "--resource DISK_GB={disk_gb}",
            "The hosts Placement could fit the flavor on.",
            when="disk_gb",
        ),
        r.check(
            r.CLI,
            "openstack --os-placement-api-version 1.10 allocation candidate list "
            "--resource VCPU={vcpus} --resource MEMORY_MB={ram_mb}",
            "The hosts Placement could fit the flavor on.",
            when="!disk_gb",
        ),
        r.check(
            r.CLI,
            "openstack server event list {server_id}",
            "The request ids of the attempts, for the scheduler log.",
        ),
    ),
    references=("https://docs.openstack.org/nova/latest/admin/scheduling.html",),
)
def no_valid_host(
    server: Server,
    actions: InstanceActions | None,
    mgmt: ManagementPlane | None,
    services: ComputeServices | None = None,
) -> CheckOutcome:
    """NoValidHost (or max scheduling retries exceeded) is a symptom: the
    scheduler log names the filter that removed the last host, Placement may have had
    no candidates, and the conductor logs why each candidate was skipped (at DEBUG).
    This check reports what the logs say, or which evidence was missing, and ranks
    below every specific check so it is the answer only when nothing else is proven:
    any specific scheduling cause found beside it is the deeper cause. A filter's
    doing is "confirmed" only if the compute services were seen up; without os-services
    a down service is a rival it could not rule out.
    """
    texts = gather(actions=actions, server=server, mgmt=mgmt)
    hit = texts.find(
        sig.NO_VALID_HOST, sig.NO_VALID_HOST_COLD, sig.MAX_RETRIES, sig.EXHAUSTED
    )
    if hit is None:
        if not texts.available:
            return Inconclusive(reason="no instance action, fault or management logs")
        return RuledOut(reason="no scheduling failure in the failure texts")
    reasons: list[str] = []
    why = list(texts.find_all(sig.FILTER_ZERO))
    why += list(texts.find_all(sig.NO_CANDIDATES)) + list(
        texts.find_all(sig.SKIPPING_HOST)
    )
    for h in why:
        if h.match.re is sig.FILTER_ZERO:
            reasons.append(f"filter {h.get('filter')} removed the last host")
        elif h.match.re is sig.NO_CANDIDATES:
            reasons.append("Placement returned no allocation candidates")
        else:
            reasons.append(f"{h.get('host')} was skipped: {h.get('reason')}")
    if mgmt is None:
        detail = (
            "the scheduler and conductor logs were not available (SaaS, or no access "
            "to the management plane), so the filter that removed the hosts is unknown"
        )
    elif reasons:
        detail = "; ".join(dict.fromkeys(reasons))
    else:
        detail = (
            "the management-plane logs hold no filter or skip reason for this request"
        )
    caveats: list[str] = []
    if services is None:
        caveats.append("compute services being down (os-services could not be read)")
    else:
        usable = [
            s for s in services.services if s.state == "up" and s.status == "enabled"
        ]
        if not [s for s in usable if s.host != server.host]:
            caveats.append(
                "no other nova-compute service is up and enabled, which alone leaves "
                "no host"
            )
    confidence = Confidence.CONFIRMED if reasons else Confidence.LIKELY
    if caveats:
        confidence = Confidence.LIKELY
    flavor = server.flavor
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "detail": detail,
            "vcpus": str(flavor.vcpus),
            "ram_mb": str(flavor.ram_mb),
            "disk_gb": str(disk)
            if (disk := flavor.disk_gb + flavor.ephemeral_gb)
            else "",
        },
        cites=cites(hit, *why[:5]),
        confidence=confidence,
        explained_by=_DEEPER,
        not_ruled_out=tuple(caveats),
    )
