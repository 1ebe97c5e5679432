"""One neutral line per runbook step saying what was looked at, for steps where nothing
concluded: an operator should see the facts ("cmp-b-01: 12 vCPU, 40 GB free"), not the
names of our evidence types."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from diagnostics.evidence import types as ev
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import MigrationSummary
from diagnostics.storage_facts import storage_logs, storage_probes

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]
Hosts = Sequence[str | None]
E = TypeVar("E", bound=Evidence)


def _get(got: EvidenceMap, kind: type[E]) -> E | None:
    value = got.get(kind)
    return value if isinstance(value, kind) else None


def _vm(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    server = _get(got, ev.Server)
    if server is None:
        return None
    where = f"{server.name} is {server.status} on {server.host or 'unknown host'}"
    if m is None:
        return where + "; no migration record found"
    route = f"{m.source_host or '?'} → {m.dest_host or '(not scheduled)'}"
    return f"{where}; migration {m.id} ({m.kind.value}) {route}: {m.status}"


def _services(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    services = _get(got, ev.ComputeServices)
    if services is None:
        return None
    parts = []
    for host in dict.fromkeys(h for h in hosts if h):
        svc = services.on(host)
        if svc is None:
            parts.append(f"{host}: no nova-compute service")
        else:
            forced = ", forced down" if svc.forced_down else ""
            parts.append(f"{host}: {svc.state}/{svc.status}{forced}")
    return "nova-compute " + "; ".join(parts) if parts else None


def _events(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    actions = _get(got, ev.InstanceActions)
    if actions is None:
        return None
    action = actions.migration_action
    if action is None:
        return f"{len(actions.actions)} actions; none matches the migration"
    failed = action.failed_events
    state = f"failed at {failed[0].event}" if failed else "every event Success"
    return f"{action.action} {action.request_id}: {state}"


def _pods(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    mgmt = _get(got, ev.ManagementPlane)
    if mgmt is None:
        return None
    ready = sum(1 for p in mgmt.pods if p.ready)
    return f"{ready}/{len(mgmt.pods)} pods ready; {mgmt.logs.shown()} for the request"


def _capacity(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    parts = []
    placement, dest = _get(got, ev.Placement), hosts[-1] if hosts else None
    provider = placement.providers.get(dest) if placement and dest else None
    if provider is not None:
        free = {rc: provider.free(rc) for rc in ("VCPU", "MEMORY_MB", "DISK_GB")}
        parts.append(
            f"{dest} free: {free['VCPU']} vCPU, {free['MEMORY_MB']} MB RAM, {free['DISK_GB']} GB disk"
        )
    source_cpu, dest_cpu = _get(got, ev.SourceCpu), _get(got, ev.DestCpu)
    if source_cpu and dest_cpu:
        same = (
            "same CPU model"
            if source_cpu.model == dest_cpu.model
            else "different CPU models"
        )
        missing = len(source_cpu.flags - dest_cpu.flags)
        parts.append(f"{same}, {missing} source CPU flags missing on the destination")
    return "; ".join(parts) or None


def _zones(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    zones, aggregates, server = (
        _get(got, ev.AvailabilityZones),
        _get(got, ev.Aggregates),
        _get(got, ev.Server),
    )
    parts = []
    if server is not None:
        parts.append(f"VM in {server.availability_zone or 'no AZ'}")
    for host in dict.fromkeys(h for h in hosts if h):
        zone = zones.zone_of(host) if zones else None
        aggs = ", ".join(a.name for a in aggregates.of_host(host)) if aggregates else ""
        parts.append(f"{host} in {zone or '?'}" + (f" ({aggs})" if aggs else ""))
    return "; ".join(parts) or None


def _probes(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    parts = []
    for kind in (ev.SourceHostServices, ev.DestHostServices):
        services = _get(got, kind)
        if services is not None:
            down = [u for u, state in services.units.items() if state != "active"]
            parts.append(
                f"{services.host}: "
                + (f"{', '.join(down)} not active" if down else "all units active")
            )
    tls = _get(got, ev.LibvirtTlsProbe)
    if tls is not None:
        parts.append(
            f"libvirt TLS {tls.source} → {tls.dest} {'ok' if tls.connect_ok else 'FAILED'}"
        )
    storage = storage_probes(got)
    parts += [*storage.parts, *storage.could_not_check]
    return "; ".join(parts) or None


def _logs(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> str | None:
    logs = [v for v in got.values() if isinstance(v, ev.HostLogs)]
    parts = [f"{log.host}: {log.shown()}" for log in logs]
    storage = storage_logs(got)
    parts += [*storage.parts, *storage.could_not_check]
    return "; ".join(parts) or None


def cap_notes(number: int, got: EvidenceMap) -> tuple[str, ...]:
    """The caps that cut this step's log lines, said in every status (not only "passed")."""
    notes: list[str] = []
    for value in got.values():
        if isinstance(value, ev.HostLogs) and number == value.STEP and value.truncated:
            notes.append(f"{value.host}: {value.shown()}")
        elif (
            isinstance(value, ev.ManagementPlane)
            and number == value.STEP
            and value.logs.truncated
        ):
            notes.append(f"pod logs: {value.logs.shown()}")
        elif (
            isinstance(value, ev.StorageNodeLogs)
            and number == value.STEP
            and value.truncated
        ):
            notes.append(f"cinder-volume logs: {value.shown()}")
    return tuple(notes)


_DESCRIBE: dict[
    int, Callable[[EvidenceMap, MigrationSummary | None, Hosts], str | None]
] = {
    1: _vm,
    2: _services,
    3: _events,
    4: _pods,
    5: _capacity,
    6: _zones,
    7: _probes,
    8: _logs,
}


def describe_step(
    number: int, got: EvidenceMap, migration: MigrationSummary | None, hosts: Hosts
) -> str:
    """What the step looked at, in the operator's terms."""
    return (
        _DESCRIBE[number](got, migration, hosts)
        or "nothing to check for this migration"
    )
