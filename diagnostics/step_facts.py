"""The runbook's eight steps: number, title and what each step saw, in one place.

Each describer gives one neutral line of what was looked at ("cmp-b-01: 12 vCPU, 40 GB
free"), in the operator's terms rather than our evidence types, plus what was abnormal
in it. A step with anything abnormal is never ``passed`` (steps.py), whether or not a
check concluded from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from diagnostics.evidence import types as ev
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import MigrationKind, MigrationSummary
from diagnostics.probe_faults import probe_self_failure
from diagnostics.storage_facts import storage_logs, storage_probes

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]
Hosts = Sequence[str | None]
E = TypeVar("E", bound=Evidence)


class Step(IntEnum):
    """A runbook step (numbered 1–8 as the seed runbook); evidence ``STEP`` ints are these."""

    VM_STATUS = 1
    SERVICES = 2
    EVENTS = 3
    MANAGEMENT_PLANE = 4
    CAPACITY = 5
    ZONES = 6
    PROBES = 7
    LOGS = 8

    @property
    def title(self) -> str:
        return _TITLES[self]

    def describe(
        self, got: EvidenceMap, migration: MigrationSummary | None, hosts: Hosts
    ) -> StepFacts:
        """What the step looked at and what was abnormal in it."""
        facts = _DESCRIBE[self](got, migration, hosts)
        if not facts.summary:
            return StepFacts(
                summary="nothing to check for this migration", abnormal=facts.abnormal
            )
        return facts


_TITLES: dict[Step, str] = {
    Step.VM_STATUS: "VM and migration status",
    Step.SERVICES: "Compute and storage services",
    Step.EVENTS: "VM events and request id",
    Step.MANAGEMENT_PLANE: "Management plane pods and logs",
    Step.CAPACITY: "Target host capacity and CPU",
    Step.ZONES: "Availability zones and aggregates",
    Step.PROBES: "Services and probes on the hypervisors",
    Step.LOGS: "Hypervisor logs",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFacts:
    """One line of what a step saw; ``abnormal`` lists what is not as it should be."""

    summary: str
    abnormal: tuple[str, ...] = ()
    could_not_check: tuple[
        str, ...
    ] = ()  # e.g. log files the diagnosis user cannot read


def _get(got: EvidenceMap, kind: type[E]) -> E | None:
    value = got.get(kind)
    return value if isinstance(value, kind) else None


def _hosts(hosts: Hosts) -> list[str]:
    return list(dict.fromkeys(h for h in hosts if h))


def _vm(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    server = _get(got, ev.Server)
    if server is None:
        return StepFacts(summary="")
    where = f"{server.name} is {server.status} on {server.host or 'unknown host'}"
    abnormal: list[str] = []
    if server.fault is not None:
        fault = server.fault
        when = f" at {fault.created:%Y-%m-%d %H:%M:%S} UTC" if fault.created else ""
        abnormal.append(f"fault {fault.code}: {fault.message[:300]}{when}")
    if m is None:
        return StepFacts(
            summary=where + "; no migration record found", abnormal=tuple(abnormal)
        )
    route = f"{m.source_host or '?'} → {m.dest_host or '(not scheduled)'}"
    summary = f"{where}; migration {m.id} ({m.kind.value}) {route}: {m.status}"
    target = hosts[-1] if len(hosts) > 1 else None
    if target and target != m.dest_host:
        # the host asked about (--target-host) is not where this move went
        summary += f"; evaluating {target} as the target"
    return StepFacts(summary=summary, abnormal=tuple(abnormal))


def _services(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    services = _get(got, ev.ComputeServices)
    agents = _get(got, ev.NetworkAgents)
    parts, abnormal = [], []
    # an evacuation needs its source down: that is expected, not abnormal
    expected_down = (
        {hosts[0]}
        if m is not None and m.kind is MigrationKind.EVACUATION and hosts
        else set()
    )
    for host in _hosts(hosts):
        svc = services.on(host) if services is not None else None
        if services is None:
            continue
        if svc is None:
            parts.append(f"{host}: no nova-compute service")
            abnormal.append(f"{host} has no nova-compute service")
            continue
        forced = ", forced down" if svc.forced_down else ""
        parts.append(f"{host}: {svc.state}/{svc.status}{forced}")
        if host in expected_down:
            continue
        if svc.state != "up" or svc.forced_down:
            abnormal.append(f"nova-compute on {host} is {svc.state}{forced}")
        elif svc.status != "enabled" and host == (hosts[-1] if hosts else None):
            abnormal.append(f"nova-compute on {host} is {svc.status}")
    for agent in agents.agents if agents is not None else ():
        if agent.host in expected_down:
            continue
        if agent.host in hosts and not (agent.alive and agent.admin_state_up):
            abnormal.append(f"{agent.agent_type} on {agent.host} is not alive")
    summary = "nova-compute " + "; ".join(parts) if parts else ""
    return StepFacts(summary=summary, abnormal=tuple(abnormal))


def _events(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    actions = _get(got, ev.InstanceActions)
    if actions is None:
        return StepFacts(summary="")
    action = actions.migration_action
    if action is None:
        return StepFacts(
            summary=f"{len(actions.actions)} actions; none matches the migration"
        )
    failed = action.failed_events
    state = f"failed at {failed[0].event}" if failed else "every event Success"
    return StepFacts(
        summary=f"{action.action} {action.request_id}: {state}",
        abnormal=tuple(f"event {e.event}: Error" for e in failed),
    )


def _pods(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    mgmt = _get(got, ev.ManagementPlane)
    if mgmt is None:
        return StepFacts(summary="")
    ready = sum(1 for p in mgmt.pods if p.ready)
    summary = (
        f"{ready}/{len(mgmt.pods)} pods ready; {mgmt.logs.shown()} for the request"
    )
    abnormal = [
        f"pod {p.name} is not ready ({p.phase})" for p in mgmt.pods if not p.ready
    ]
    abnormal += _error_lines(mgmt.logs)
    return StepFacts(summary=summary, abnormal=tuple(abnormal))


def _capacity(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    parts, abnormal = [], []
    placement, dest = _get(got, ev.Placement), hosts[-1] if hosts else None
    provider = placement.providers.get(dest) if placement and dest else None
    if provider is not None:
        free = {rc: provider.free(rc) for rc in ("VCPU", "MEMORY_MB", "DISK_GB")}
        parts.append(
            f"{dest} free: {free['VCPU']} vCPU, {free['MEMORY_MB']} MB RAM, "
            f"{free['DISK_GB']} GB disk"
        )
        abnormal += [
            f"{dest}: {rc} over-allocated"
            for rc, n in free.items()
            if n is not None and n < 0
        ]
    source_cpu, dest_cpu = _get(got, ev.SourceCpu), _get(got, ev.DestCpu)
    if source_cpu and dest_cpu:
        same = (
            "same CPU model"
            if source_cpu.model == dest_cpu.model
            else "different CPU models"
        )
        missing = len(source_cpu.flags - dest_cpu.flags)
        parts.append(f"{same}, {missing} source CPU flags missing on the destination")
        if missing:
            abnormal.append(f"{missing} source CPU flags missing on {dest_cpu.host}")
    return StepFacts(summary="; ".join(parts), abnormal=tuple(abnormal))


def _zones(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    zones, aggregates, server = (
        _get(got, ev.AvailabilityZones),
        _get(got, ev.Aggregates),
        _get(got, ev.Server),
    )
    parts = []
    if server is not None:
        parts.append(f"VM in {server.availability_zone or 'no AZ'}")
    for host in _hosts(hosts):
        zone = zones.zone_of(host) if zones else None
        aggs = ", ".join(a.name for a in aggregates.of_host(host)) if aggregates else ""
        parts.append(f"{host} in {zone or '?'}" + (f" ({aggs})" if aggs else ""))
    return StepFacts(summary="; ".join(parts))


def _probes(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    parts, abnormal = [], []
    for kind in (ev.SourceHostServices, ev.DestHostServices):
        services = _get(got, kind)
        if services is not None:
            down = [u for u, state in services.units.items() if state != "active"]
            parts.append(
                f"{services.host}: "
                + (f"{', '.join(down)} not active" if down else "all units active")
            )
            abnormal += [f"{u} on {services.host} is {services.units[u]}" for u in down]
    tls = _get(got, ev.LibvirtTlsProbe)
    if tls is not None:
        parts.append(
            f"libvirt TLS {tls.source} → {tls.dest} {'ok' if tls.connect_ok else 'FAILED'}"
        )
        own = probe_self_failure(tls)
        if own is not None:
            parts[-1] = f"libvirt TLS {tls.source} → {tls.dest} not checked"
        elif not tls.connect_ok:
            abnormal.append(f"libvirt TLS connect {tls.source} → {tls.dest} failed")
    ssh = _get(got, ev.ColdMigrationSshProbe)
    if ssh is not None:
        parts.append(
            f"SSH {ssh.source} → {ssh.dest} as {ssh.user} {'ok' if ssh.ok else 'FAILED'}"
        )
        if not ssh.ok:
            abnormal.append(f"SSH {ssh.source} → {ssh.dest} as {ssh.user} failed")
    left, server = _get(got, ev.DestLeftovers), _get(got, ev.Server)
    runs_there = server is not None and left is not None and server.host == left.host
    if (
        left is not None
        and not runs_there
        and (left.domain_defined or left.instance_dir_exists)
    ):
        abnormal.append(f"leftovers of the VM on {left.host}")
    storage = storage_probes(got)
    parts += storage.parts
    abnormal += storage.abnormal
    return StepFacts(
        summary="; ".join(parts),
        abnormal=tuple(abnormal),
        could_not_check=storage.could_not_check,
    )


def _error_lines(logs: ev.LogLines) -> list[str]:
    errors = [ln for ln in logs.lines if (ln.level or "") in ("ERROR", "CRITICAL")]
    return [f"{len(errors)} ERROR lines"] if errors else []


def _logs(got: EvidenceMap, m: MigrationSummary | None, hosts: Hosts) -> StepFacts:
    # the source's logs first, whichever collector finished first
    logs = sorted(
        (v for v in got.values() if isinstance(v, ev.HostLogs)),
        key=lambda v: (not isinstance(v, ev.SourceHostLogs), v.host),
    )
    parts, abnormal, unread = [], [], []
    for log in logs:
        parts.append(f"{log.host}: {log.shown()}")
        abnormal += [f"{log.host}: {e}" for e in _error_lines(log)]
        unread += [f"{log.host}:{path}" for path in log.unreadable]
    storage = storage_logs(got)
    parts += storage.parts
    abnormal += storage.abnormal
    return StepFacts(
        summary="; ".join(parts),
        abnormal=tuple(abnormal),
        could_not_check=(
            *(f"could not read {u}" for u in unread),
            *storage.could_not_check,
        ),
    )


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
    Step, Callable[[EvidenceMap, MigrationSummary | None, Hosts], StepFacts]
] = {
    Step.VM_STATUS: _vm,
    Step.SERVICES: _services,
    Step.EVENTS: _events,
    Step.MANAGEMENT_PLANE: _pods,
    Step.CAPACITY: _capacity,
    Step.ZONES: _zones,
    Step.PROBES: _probes,
    Step.LOGS: _logs,
}


def describe_step(
    number: int, got: EvidenceMap, migration: MigrationSummary | None, hosts: Hosts
) -> str:
    """What the step looked at, in the operator's terms (the summary line only)."""
    return Step(number).describe(got, migration, hosts).summary
