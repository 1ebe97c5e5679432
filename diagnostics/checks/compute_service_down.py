"""nova-compute or libvirtd is down, disabled or forced down on a host of the move (F7.1)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
    ComputeServices,
    DestHostServices,
    HostServices,
    InstanceActions,
    LibvirtTlsProbe,
    ManagementPlane,
    MigrationRecords,
    Server,
    ServiceInfo,
    SourceHostServices,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Citation,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_UNITS = ("pf9-ostackhost", "libvirtd")


def _api_problem(svc: ServiceInfo | None, is_dest: bool) -> tuple[str, str] | None:
    """(problem, svc_fix) from the API's view of nova-compute; svc_fix picks the steps."""
    if svc is None:
        return None
    if svc.forced_down:
        return "nova-compute is forced down", "up"
    if svc.state != "up":
        return "nova-compute is down", "restart"
    if is_dest and svc.status != "enabled":  # a disabled source may still be drained
        why = f" ({svc.disabled_reason})" if svc.disabled_reason else ""
        return f"nova-compute is disabled{why}", "enable"
    return None


_HOST = r.host("{host}")
_REMEDIES = (
    r.check(_HOST, "journalctl -u libvirtd -n 100 --no-pager",
            "Why libvirtd stopped, before a restart hides it.", when="dead_libvirtd"),
    r.fix(_HOST, "systemctl restart libvirtd",
          "nova-compute needs libvirtd on the host.", when="dead_libvirtd"),
    r.check(_HOST, "journalctl -u pf9-ostackhost -n 100 --no-pager",
            "Why nova-compute (pf9-ostackhost) stopped, before a restart hides it.",
            when="dead_ostackhost"),
    r.fix(_HOST, "systemctl restart pf9-ostackhost",
          "Starts nova-compute again; it reports up within a minute.",
          when="dead_ostackhost"),
    r.fix(r.CLI, "openstack compute service set --up {host} nova-compute",
          "Clears forced_down, which someone set (for an evacuation or by hand).",
          when="svc_fix=up"),
    r.fix(r.CLI, "openstack compute service set --enable {host} nova-compute",
          "Lets the scheduler place VMs on {host} again.", when="svc_fix=enable"),
    r.check(_HOST, "systemctl status pf9-ostackhost libvirtd --no-pager",
            "Both units must be active (running)."),
    r.check(r.CLI, "openstack compute service list --service nova-compute --host {host}",
            "Nova must show the service enabled and up before a retry."),
)  # fmt: skip


@check(
    id="nova.compute-service-down",
    title="Compute service down or disabled on a host of the move",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.COMPUTE_SERVICE_DOWN,
    priority=750,
    step=2,
    summary="On {host}, {problem}, so Nova could not move {server_name} there.",
    remediation=_REMEDIES,
    references=(
        "https://platform9.com/kb/pcd-ts/vm-deployment/virtual-machine-migration-issues",
    ),
)
def compute_service_down(
    server: Server,
    records: MigrationRecords | None,
    services: ComputeServices | None,
    source_units: SourceHostServices | None,
    dest_units: DestHostServices | None,
    actions: InstanceActions | None,
    mgmt: ManagementPlane | None,
    probe: LibvirtTlsProbe | None = None,
) -> CheckOutcome:
    """Nova checks that both computes are up before a live migration ("Compute service
    of X is unavailable at this time") and the scheduler drops disabled hosts. The
    source's service being down is expected for an evacuation, so only the destination
    counts then. The API state, the units on the host (pf9-ostackhost, libvirtd) and the
    conductor's message are independent sources; two agreeing is "confirmed". A dead
    libvirtd on the destination and the source's refused connect to its TLS port (probe)
    agree too. Nothing is ruled out on evidence that was not collected: without the API
    state or the units of a host, the check says it could not check.
    """
    move = move_of(records, server)
    evacuation = move.kind == MigrationKind.EVACUATION
    sides: list[tuple[str | None, HostServices | None, bool]] = [
        (move.dest, dest_units, True)
    ]
    if move.retargeted:
        # --target-host: the move failed on its own destination, whose API state and
        # the conductor's words explain that failure (its units were not probed: the
        # probes went to the target); the target's side is judged on its own evidence
        sides.insert(0, (move.failed_dest, None, True))
    if not evacuation:
        sides.append((move.source, source_units, False))
    texts = gather(actions=actions, server=server, mgmt=mgmt)
    for host, units, is_dest in sides:
        if host is None:
            continue
        unavailable = texts.find_all(sig.SERVICE_UNAVAILABLE)
        hit = next((h for h in unavailable if h.get("host") == host), None)
        svc = services.on(host) if services is not None else None
        api = _api_problem(svc, is_dest)
        states = units.units if units is not None else {}
        dead = [u for u in _UNITS if states.get(u, "active") != "active"]
        if hit is None and api is None and not dead:
            continue
        parts: list[str] = []
        svc_fix = "restart"
        if api is not None:
            parts.append(api[0])
            svc_fix = api[1]
        elif hit is not None:
            parts.append("Nova reports its compute service unavailable")
        if dead:
            parts.append(f"{', '.join(dead)} not active on the host")
        restart = set(dead) or ({"pf9-ostackhost"} if svc_fix == "restart" else set())
        refused = (
            is_dest
            and probe is not None
            and probe.dest == host
            and "libvirtd" in dead
            and not probe.connect_ok
            and probe.port_open is False
        )
        if refused:
            parts.append(f"the TLS port 16514 on {host} refuses connections")
        api_cite: tuple[Citation, ...] = ()
        if refused and probe is not None:
            api_cite += (
                Citation(source=probe.call(0), text=probe.connect_output.strip()[:300]),
            )
        if units is not None and dead:
            text = ", ".join(f"{u} {states.get(u)}" for u in dead)
            api_cite += (Citation(source=units.provenance, text=f"{host}: {text}"),)
        if svc is not None and api is not None and services is not None:
            text = f"nova-compute {host}: state={svc.state} status={svc.status}"
            text += f" forced_down={svc.forced_down}"
            api_cite = (Citation(source=services.provenance, text=text), *api_cite)
        facts = {
            "host": host,
            "problem": "; ".join(parts),
            "svc_fix": svc_fix,
            "dead_libvirtd": "yes" if "libvirtd" in restart else "",
            "dead_ostackhost": "yes" if "pf9-ostackhost" in restart else "",
        }
        return Concluded(
            facts=facts | {"server_name": server.name},
            cites=api_cite + cites(hit),
            confidence=Confidence.CONFIRMED
            if sum(map(bool, (hit, api, dead, refused))) > 1
            else Confidence.LIKELY,
        )
    nothing = services is None and source_units is None and dest_units is None
    if nothing and not texts.available:
        return Inconclusive(reason="no service state, host units or failure text")
    # the failed move's own destination is not probed under --target-host: by choice
    unprobed = move.failed_dest if move.retargeted else None
    unread = [
        h for h, units, _ in sides if h is not None and h != unprobed and units is None
    ]
    missing = ["the nova-compute state (os-services)"] if services is None else []
    if unread:
        missing.append(f"the pf9-ostackhost/libvirtd units on {', '.join(unread)}")
    if missing:
        return CouldNotCheck(
            why="no service failure seen, but "
            + " and ".join(missing)
            + " could not be read",
            needs="the admin os-services API and SSH to the hypervisors",
        )
    return RuledOut(reason="nova-compute and libvirtd are up on the hosts of the move")
