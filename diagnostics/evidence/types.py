"""Evidence types: the facts collectors gather and checks read.

Every type is a frozen value with ``provenance`` (API call + request id, a host:path, or the
command run) so renderers can cite it. Collectors convert SDK / SSH / Kubernetes data into
these right away: nothing downstream sees ``Any``-typed library objects.

Each evidence type declares the runbook ``STEP`` it belongs to (1–8); the engine reports a
step as ``error`` when one of its collectors could not deliver.

Host-scoped evidence comes in Source/Dest pairs (subclasses of one base) so a check's
signature says which side it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from diagnostics.evidence.redact import redact
from diagnostics.model import Citation


@dataclass(frozen=True, slots=True, kw_only=True)
class Unavailable:
    """A collector could not deliver: ``reason`` is short and human ("needs admin role")."""

    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        # the detail is often a library's or a server's error text (an HTTP body, an SSH
        # error, a traceback): redacted here, whichever collector built it
        object.__setattr__(self, "reason", redact(self.reason))
        object.__setattr__(self, "detail", redact(self.detail))


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    STEP: ClassVar[int] = 0
    provenance: str  # one call, or several joined with "; " in the order they ran

    def call(self, index: int = -1) -> str:
        """One call of the provenance, to cite the one a fact came from (default: last)."""
        calls = self.provenance.split("; ")
        return calls[index] if -len(calls) <= index < len(calls) else self.provenance

    def call_with(self, *parts: str) -> str:
        """The first call whose text contains every one of ``parts`` (else the last)."""
        calls = self.provenance.split("; ")
        return next((c for c in calls if all(p in c for p in parts)), calls[-1])


# ---- step 1: the VM and its migration records ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FlavorInfo:
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    code: int
    message: str
    details: str = ""
    created: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Server(Evidence):
    """GET /servers/{id} at the highest microversion the cloud offers (admin fields)."""

    STEP: ClassVar[int] = 1
    id: str
    name: str
    status: str
    vm_state: str | None
    task_state: str | None
    power_state: int | None
    host: str | None  # OS-EXT-SRV-ATTR:host (admin only)
    hypervisor_hostname: str | None
    instance_name: str | None  # OS-EXT-SRV-ATTR:instance_name (libvirt domain)
    availability_zone: str | None
    pinned_availability_zone: str | None  # 2.96+
    host_status: str | None  # 2.16+: UP / DOWN / MAINTENANCE / UNKNOWN / ""
    locked: bool
    flavor: FlavorInfo
    image_id: str | None  # None / "" for boot-from-volume
    image_properties: Mapping[str, str] = field(default_factory=dict)
    volume_ids: tuple[str, ...] = ()
    fault: Fault | None = None  # only when status is ERROR / DELETED
    project_id: str = ""
    updated: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationRecord:
    id: str
    uuid: str | None  # 2.59+
    kind: str  # live-migration / migration / resize / evacuation
    status: str
    source_compute: str | None
    dest_compute: str | None
    dest_host: str | None  # IP of the destination (may be empty)
    source_node: str | None = None
    dest_node: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationRecords(Evidence):
    """GET /os-migrations?instance_uuid=… newest first."""

    STEP: ClassVar[int] = 1
    records: tuple[MigrationRecord, ...]
    # what the operator asked for (MigrationRef): checks read the move from here, since
    # they never see the CollectContext. target_host wins over the record's dest_compute;
    # kind_hint covers a move Nova refused before writing a record (e.g. evacuate 400).
    target_host: str | None = None
    kind_hint: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortBinding:
    host: str
    status: str  # ACTIVE / INACTIVE
    vif_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PortInfo:
    id: str
    status: str
    vif_type: str  # binding:vif_type: ovs / binding_failed / unbound / ...
    vnic_type: str
    binding_host: str | None  # binding:host_id
    profile: Mapping[str, str] = field(default_factory=dict)  # binding:profile
    bindings: tuple[PortBinding, ...] = ()  # binding-extended (all hosts)
    network_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ports(Evidence):
    """Neutron ports of the VM (GET /v2.0/ports?device_id=…) with their bindings."""

    STEP: ClassVar[int] = 1
    ports: tuple[PortInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeAttachmentInfo:
    attachment_id: str
    server_id: str
    host: str | None
    status: str  # attached / attaching / reserved / detached / error_attaching


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeInfo:
    id: str
    name: str
    status: str
    backend_host: str | None  # os-vol-host-attr:host (admin)
    volume_type: str | None
    bootable: bool
    attachments: tuple[VolumeAttachmentInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Volumes(Evidence):
    """Cinder volumes attached to the VM, with attachments (3.27+)."""

    STEP: ClassVar[int] = 1
    volumes: tuple[VolumeInfo, ...]


# ---- step 2: services ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceInfo:
    binary: str
    host: str
    zone: str | None
    status: str  # enabled / disabled
    state: str  # up / down
    forced_down: bool = False
    disabled_reason: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComputeServices(Evidence):
    """GET /os-services?binary=nova-compute."""

    STEP: ClassVar[int] = 2
    services: tuple[ServiceInfo, ...]

    def on(self, host: str | None) -> ServiceInfo | None:
        return next((s for s in self.services if s.host == host), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeServices(Evidence):
    """Cinder GET /os-services (cinder-volume per backend host)."""

    STEP: ClassVar[int] = 2
    services: tuple[ServiceInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInfo:
    agent_type: str  # "OVN Controller agent", "Open vSwitch agent", ...
    host: str
    alive: bool
    admin_state_up: bool
    binary: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkAgents(Evidence):
    """GET /v2.0/agents (source and destination hosts)."""

    STEP: ClassVar[int] = 2
    agents: tuple[AgentInfo, ...]


# ---- step 3: instance actions and events --------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionEvent:
    event: str
    result: str | None  # Success / Error / None (still running)
    start_time: datetime | None
    finish_time: datetime | None
    traceback: str | None = None  # admin only
    host: str | None = None  # 2.62+
    details: str | None = None  # 2.84+


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceAction:
    action: str  # live-migration / migrate / evacuate / resize / ...
    request_id: str
    start_time: datetime | None
    message: str | None  # "Error" when any event failed
    user_id: str | None = None
    events: tuple[ActionEvent, ...] = ()

    @property
    def failed_events(self) -> tuple[ActionEvent, ...]:
        return tuple(e for e in self.events if e.result == "Error")


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceActions(Evidence):
    """os-instance-actions list, and the migration's action shown with its events.

    ``migration_action`` is the action matched to the migration under diagnosis (by kind
    and time); ``actions`` is the list as Nova returns it, newest first.
    """

    STEP: ClassVar[int] = 3
    actions: tuple[InstanceAction, ...]
    migration_action: InstanceAction | None


# ---- step 4: management plane (self-hosted only) ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine:
    """One log line with its place of origin; ``timestamp`` is aware UTC when parseable."""

    source: str  # host:path:lineno, or pod-name (container)
    text: str  # the whole line as written (redacted)
    timestamp: datetime | None = None
    level: str | None = None
    request_id: str | None = None

    def cite(self) -> Citation:
        return Citation(source=self.source, text=self.text)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLines(Evidence):
    """Matched lines; ``truncated`` when the match or byte cap was hit.

    ``matched`` is how many lines matched in all when a cap cut the list (counted at the
    source), ``matched_at_least`` when that count is itself only a lower bound.
    """

    lines: tuple[LogLine, ...]
    truncated: bool = False
    matched: int | None = None
    matched_at_least: bool = False

    def shown(self) -> str:
        """``"12 lines"``, or the cap disclosed: ``"showing 500 of ≥ 2,000,000 ..."``."""
        count = f"{len(self.lines):,} line{'' if len(self.lines) == 1 else 's'}"
        if not self.truncated:
            return count
        bound = "≥ " if self.matched_at_least or self.matched is None else ""
        total = max(self.matched or 0, len(self.lines))
        return (
            f"showing {len(self.lines):,} of {bound}{total:,} matching lines (capped)"
        )

    def matching(
        self, pattern: re.Pattern[str]
    ) -> Iterator[tuple[LogLine, re.Match[str]]]:
        for line in self.lines:
            m = pattern.search(line.text)
            if m:
                yield line, m

    def first(self, pattern: re.Pattern[str]) -> tuple[LogLine, re.Match[str]] | None:
        return next(self.matching(pattern), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodInfo:
    name: str
    deployment: str
    phase: str
    ready: bool
    restarts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagementPlane(Evidence):
    """Pods of the region namespace and their log lines for the request id / VM uuid."""

    STEP: ClassVar[int] = 4
    pods: tuple[PodInfo, ...]
    logs: LogLines


# ---- step 5: target capacity and requirements ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HypervisorInfo:
    id: str
    hostname: str  # hypervisor_hostname
    service_host: str  # service.host: the nova host name
    state: str
    status: str
    host_ip: str | None
    hypervisor_type: str | None
    hypervisor_version: int | None
    cpu_info: Mapping[str, object] = field(default_factory=dict)  # only <= 2.87


@dataclass(frozen=True, slots=True, kw_only=True)
class Hypervisors(Evidence):
    STEP: ClassVar[int] = 5
    hypervisors: tuple[HypervisorInfo, ...]

    def on(self, host: str | None) -> HypervisorInfo | None:
        return next(
            (h for h in self.hypervisors if host in (h.service_host, h.hostname)), None
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Inventory:
    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int = 0
    step_size: int = 1

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderView:
    uuid: str
    name: str
    inventories: Mapping[str, Inventory]
    usages: Mapping[str, int]
    traits: frozenset[str]
    aggregates: frozenset[str] = frozenset()

    def free(self, resource_class: str) -> int | None:
        inv = self.inventories.get(resource_class)
        if inv is None:
            return None
        return inv.capacity - self.usages.get(resource_class, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement(Evidence):
    """Resource providers of the source and destination, and allocations held.

    ``allocations`` maps a consumer uuid (instance or migration) to
    {provider uuid: {resource class: amount}}.
    """

    STEP: ClassVar[int] = 5
    providers: Mapping[
        str, ProviderView
    ]  # keyed by provider name (= nova hypervisor_hostname)
    allocations: Mapping[str, Mapping[str, Mapping[str, int]]] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuInfo(Evidence):
    """lscpu on a hypervisor: model name and flags."""

    STEP: ClassVar[int] = 5
    host: str
    model: str
    vendor: str
    flags: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCpu(CpuInfo):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class DestCpu(CpuInfo):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class DestDisk(Evidence):
    """df of the instances path on the destination."""

    STEP: ClassVar[int] = 5
    host: str
    path: str
    available_bytes: int
    size_bytes: int


# ---- step 6: availability zones and aggregates --------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateInfo:
    id: str
    name: str
    availability_zone: str | None
    hosts: tuple[str, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregates(Evidence):
    STEP: ClassVar[int] = 6
    aggregates: tuple[AggregateInfo, ...]

    def of_host(self, host: str | None) -> tuple[AggregateInfo, ...]:
        return tuple(a for a in self.aggregates if host in a.hosts)


@dataclass(frozen=True, slots=True, kw_only=True)
class AvailabilityZones(Evidence):
    """os-availability-zone/detail: zone -> hosts."""

    STEP: ClassVar[int] = 6
    zones: Mapping[str, tuple[str, ...]]

    def zone_of(self, host: str | None) -> str | None:
        return next((z for z, hosts in self.zones.items() if host in hosts), None)


# ---- step 7: service state and probes on the hypervisors ----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HostServices(Evidence):
    """systemctl is-active of pf9-ostackhost, libvirtd, the network agent, iscsid, ..."""

    STEP: ClassVar[int] = 7
    host: str
    units: Mapping[str, str]  # unit -> active / inactive / failed / unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHostServices(HostServices):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class DestHostServices(HostServices):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInfo:
    path: str
    subject: str
    sans: tuple[str, ...]
    not_before: datetime | None
    not_after: datetime | None
    issuer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LibvirtTlsProbe(Evidence):
    """From the source: virsh -c qemu+tls://<dest>/system version, nc -z dest 16514; the
    destination's server certificate and clock, the source's client certificate."""

    STEP: ClassVar[int] = 7
    source: str
    dest: str
    connect_ok: bool
    connect_output: str  # virsh's stderr/stdout (the libvirt error text)
    port_open: bool | None
    dest_server_cert: CertificateInfo | None
    source_client_cert: CertificateInfo | None
    dest_clock: datetime | None = None
    source_clock: datetime | None = None
    # virsh ran as root (ssh.user root or through sudo): only then is a client key or
    # certificate it cannot read a fault of the host rather than of the probe's access
    privileged: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ColdMigrationSshProbe(Evidence):
    """From the source as the compute user: ssh -o BatchMode=yes <dest> true."""

    STEP: ClassVar[int] = 7
    source: str
    dest: str
    user: str
    ok: bool
    stderr: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DestStorage(Evidence):
    """iscsiadm -m session and multipath -ll on the destination."""

    STEP: ClassVar[int] = 7
    host: str
    iscsi_sessions: tuple[str, ...]
    multipath: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DestLeftovers(Evidence):
    """What an earlier attempt may have left on the destination for this VM."""

    STEP: ClassVar[int] = 7
    host: str
    domain_defined: bool  # virsh -r list --all --name has the instance name
    instance_dir_exists: bool  # <instances_path>/<uuid> exists
    instance_dir: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageNode:
    """One cinder-volume backend holding volumes of the VM, and the node it runs on.

    ``backend`` is Cinder's service host (``storage-01@lvm``, the volume's
    ``os-vol-host-attr:host`` without ``#pool``); ``node`` its host part, the machine
    reached over SSH. ``service`` is that backend's cinder-volume row of Cinder's
    os-services (None: Cinder lists none). ``units`` is ``systemctl is-active`` of the
    cinder-volume units on the node, or None with ``unchecked`` saying why not.
    """

    backend: str
    node: str
    volume_ids: tuple[str, ...]
    service: ServiceInfo | None
    units: Mapping[str, str] | None = None
    unchecked: str | None = None  # "could not check: <why>; needs <access>"


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageNodes(Evidence):
    """The storage nodes of the VM's volumes: GET /volumes/{id} (host attribute, admin),
    Cinder's os-services, and the cinder-volume units on each node over SSH.

    ``unmapped`` maps a volume id to why its backend is unknown (the host attribute is
    admin-only, or empty for a volume never scheduled).
    """

    STEP: ClassVar[int] = 7
    nodes: tuple[StorageNode, ...]
    unmapped: Mapping[str, str] = field(default_factory=dict)

    def of_volume(self, volume_id: str) -> StorageNode | None:
        return next((n for n in self.nodes if volume_id in n.volume_ids), None)


# ---- step 8: logs on the hypervisors -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HostLogs(LogLines):
    """Lines for the request id / VM uuid from ostackhost.log, libvirtd and qemu logs,
    limited to the failed action's time window (with a margin)."""

    STEP: ClassVar[int] = 8
    host: str
    # files grep could not read ("/var/log/pf9/ostackhost.log: Permission denied"): their
    # lines are missing, which is "could not check", never "nothing logged"
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHostLogs(HostLogs):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class DestHostLogs(HostLogs):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageNodeLogs(LogLines):
    """cinder-volume log lines on the storage nodes, by request id and volume id, within
    the failed action's window. ``unchecked`` maps a node whose log could not be read to
    "could not check: <why>; needs <access>" (the lines of the others are still here;
    ``nodes`` empty: none could be read)."""

    STEP: ClassVar[int] = 8
    nodes: tuple[str, ...]  # the nodes whose logs were read
    unchecked: Mapping[str, str] = field(default_factory=dict)


EVIDENCE_TYPES: tuple[type[Evidence], ...] = (
    Server,
    MigrationRecords,
    Ports,
    Volumes,
    ComputeServices,
    VolumeServices,
    NetworkAgents,
    InstanceActions,
    ManagementPlane,
    Hypervisors,
    Placement,
    SourceCpu,
    DestCpu,
    DestDisk,
    Aggregates,
    AvailabilityZones,
    SourceHostServices,
    DestHostServices,
    LibvirtTlsProbe,
    ColdMigrationSshProbe,
    DestStorage,
    DestLeftovers,
    StorageNodes,
    SourceHostLogs,
    DestHostLogs,
    StorageNodeLogs,
)
