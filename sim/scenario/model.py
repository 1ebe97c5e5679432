"""Scenario model: what a simulated region looks like and what happens when a VM moves.

A scenario is a YAML file in ``sim/scenario/bundled/`` (loaded by ``sim.scenario.load``).
It describes the region as an operator would see it (hosts, services, aggregates, flavors, servers, volumes, ports) plus the
*history* of each server: the migrations that already ran, with the instance action,
events, migration record, log lines on each host and in the management-plane pods.
``on_migrate`` says what happens when a client POSTs a move action for that server now.

Times are relative to "now" when the region starts: ``-5m``, ``-2h``, ``+30d``, ``-90s``.
Text fields in events and log lines may use ``{placeholders}``: ``{server_id}``,
``{server_name}``, ``{request_id}``, ``{source}``, ``{dest}``, ``{migration_id}``,
``{migration_uuid}``, ``{port_id}``, ``{volume_id}``, ``{instance_name}``.

Validation is strict (``extra="forbid"``) so a typo names the key and the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sim.scenario.times import resolve_time


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_rel(value: str) -> str:
    resolve_time(
        value
    )  # raises ValueError naming the bad value; validated at load time
    return value


RelTime = Annotated[str, AfterValidator(_check_rel)]  # "-5m", "+30d", "now"
UnitState = Literal["active", "inactive", "failed", "activating"]


class ComputeService(_Strict):
    """nova-compute (pf9-ostackhost) as the os-services API reports it."""

    status: Literal["enabled", "disabled"] = "enabled"
    state: Literal["up", "down"] = "up"
    forced_down: bool = False
    disabled_reason: str | None = None
    updated_at: RelTime = "-10s"


class Cpu(_Strict):
    """CPU as lscpu prints it and as Placement traits / hypervisor cpu_info expose it."""

    model: str = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    vendor: str = "Intel"
    arch: str = "x86_64"
    libvirt_model: str = "IceLake-Server"  # hypervisor cpu_info.model
    flags: list[str] = Field(default_factory=list)  # lscpu Flags
    traits: list[str] = Field(default_factory=list)  # Placement HW_CPU_* traits


class Resources(_Strict):
    """Placement inventory and usage of the host's compute-node resource provider."""

    vcpus: int = 64
    memory_mb: int = 262144
    disk_gb: int = 1800
    reserved_memory_mb: int = 512
    reserved_disk_gb: int = 0
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    used_vcpus: int = 0
    used_memory_mb: int = 0
    used_disk_gb: int = 0
    extra_traits: list[str] = Field(default_factory=list)


class Certificate(_Strict):
    """A PEM certificate as ``openssl x509 -noout -subject -enddate ...`` would print it."""

    subject_cn: str
    sans: list[str] = Field(default_factory=list)  # DNS names; "IP:1.2.3.4" for IPs
    not_before: RelTime = "-365d"
    not_after: RelTime = "+365d"
    issuer_cn: str = "pf9-region-ca"


class LibvirtTls(_Strict):
    """The libvirt TLS endpoint (qemu+tls, TCP 16514) of a host."""

    listening: bool = True
    server_cert: Certificate | None = None  # None -> CN/SAN = host name, valid
    client_cert: Certificate | None = None
    ca_issuer_cn: str = "pf9-region-ca"
    blocked_from: list[str] = Field(
        default_factory=list
    )  # hosts whose TCP 16514 is dropped


class LogLine(_Strict):
    """One line in a log file: the sim prefixes an oslo.log-style timestamp/pid/level."""

    at: RelTime
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "ERROR"
    logger: str = "nova.compute.manager"
    request_id: str | None = None  # "{request_id}" or a literal req-...; None -> "-"
    text: str


_DEFAULT_UNITS: dict[str, UnitState] = {
    "pf9-ostackhost": "active",
    "libvirtd": "active",
    "pf9-neutron-ovn-metadata-agent": "active",
    "ovn-controller": "active",
    "iscsid": "active",
    "multipathd": "active",
}


class Host(_Strict):
    """One hypervisor: Nova's view (service, hypervisor, Placement) and the box over SSH."""

    az: str = "nova"
    host_ip: str = "10.0.0.10"
    hypervisor_version: int = 8002000  # libvirt-reported QEMU 8.2.0
    compute: ComputeService = ComputeService()
    # systemctl is-active answers; missing units answer "inactive"
    units: dict[str, UnitState] = Field(default_factory=lambda: dict(_DEFAULT_UNITS))
    cpu: Cpu = Cpu()
    resources: Resources = Resources()
    instances_path: str = "/opt/data/instances"
    disk_free_bytes: int = 900 * 1024**3
    disk_size_bytes: int = 1800 * 1024**3
    tls: LibvirtTls = LibvirtTls()
    clock_skew_seconds: int = 0
    iscsi_sessions: list[str] = Field(
        default_factory=list
    )  # lines as iscsiadm -m session prints
    multipath: str = ""  # multipath -ll output
    network_agent: Literal["ovn", "ovs"] = "ovn"
    network_agent_alive: bool = True
    # result of `ssh -o BatchMode=yes <other> true` run as the compute user (pf9) from this host
    ssh_to: dict[str, str] = Field(default_factory=dict)  # dest -> stderr ("" = ok)
    domains: list[str] = Field(
        default_factory=list
    )  # extra libvirt domains defined here
    instance_dirs: list[str] = Field(
        default_factory=list
    )  # extra dirs under instances_path
    cinder_volume: bool = False  # runs the cinder-volume service (storage role)
    # static file content, keyed by path (e.g. extra logs); logs for migrations live in history
    logs: dict[str, list[LogLine]] = Field(default_factory=dict)
    reachable: bool = True  # False -> SSH server not started (connection refused)
    # False -> the host runs (its services report up) but refuses the diagnosis's SSH, as
    # a storage node outside the diagnosis user's access would
    ssh_open: bool = True
    # files only root may read (mode 0600 root:root), e.g. a log or the libvirt client
    # key: the diagnosis user gets "Permission denied" unless it runs through sudo
    root_only: list[str] = Field(default_factory=list)
    # the diagnosis user's NOPASSWD sudo rule; False: `sudo -n` says a password is required
    diagnosis_sudo: bool = True


class Aggregate(_Strict):
    name: str
    availability_zone: str | None = None
    hosts: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)


class Flavor(_Strict):
    name: str
    vcpus: int = 2
    ram: int = 4096
    disk: int = 40
    extra_specs: dict[str, str] = Field(default_factory=dict)


class Volume(_Strict):
    name: str
    size: int = 20
    status: Literal[
        "in-use", "available", "attaching", "detaching", "reserved", "error"
    ] = "in-use"
    backend_host: str = "cinder-lvm@lvm#LVM"  # os-vol-host-attr:host
    volume_type: str = "lvm"
    boot: bool = False
    attachment_status: Literal[
        "attached", "attaching", "reserved", "detached", "error_attaching"
    ] = "attached"
    id: str | None = None


class Port(_Strict):
    network: str = "tenant-net"
    ip: str = "192.168.10.5"
    mac: str | None = None
    vif_type: Literal["ovs", "binding_failed", "unbound", "other"] = "ovs"
    vnic_type: str = "normal"
    binding_host: str | None = None  # None -> the server's host
    status: Literal["ACTIVE", "DOWN", "BUILD", "ERROR"] = "ACTIVE"
    profile: dict[str, str] = Field(default_factory=dict)
    inactive_binding_hosts: list[str] = Field(default_factory=list)  # stale bindings
    id: str | None = None


class Event(_Strict):
    """An instance-action event (os-instance-actions)."""

    event: str
    result: Literal["Success", "Error"] | None = "Success"
    host: str | None = (
        None  # "{source}" / "{dest}" / a name; None -> the conductor, no host
    )
    traceback: str | None = None
    details: str | None = None  # 2.84+: exception message for failed events
    start: RelTime | None = None  # default: action start
    duration_s: int = 1


class Notification(_Strict):
    """A versioned notification Nova emits for this outcome (event_type + payload name)."""

    event_type: str  # e.g. instance.live_migration_rollback.end
    sample: str | None = (
        None  # name of a file in reference notification_samples to base it on
    )
    priority: Literal["INFO", "ERROR"] = "INFO"
    publisher: str = "nova-compute:{source}"
    exception: dict[str, str] | None = (
        None  # for *.error payloads: exception, exception_message
    )


class Progress(_Strict):
    """What libvirt's job info said last (Nova saves it on an in-progress live migration
    and shows it at GET /servers/{id}/migrations/{mid}, 2.23+)."""

    memory_total_bytes: int = 0
    memory_processed_bytes: int = 0
    memory_remaining_bytes: int = 0
    disk_total_bytes: int = 0
    disk_processed_bytes: int = 0
    disk_remaining_bytes: int = 0


class Outcome(_Strict):
    """What a migration attempt did: used for history and for ``on_migrate``."""

    kind: Literal["live-migration", "migration", "evacuation", "resize"]
    action: Literal["live-migration", "migrate", "evacuate", "resize"] | None = None
    dest: str | None = (
        None  # None -> chosen by the "scheduler" (dest_compute stays null if it failed)
    )
    block_migration: bool | None = False
    status: str = "error"  # final migration status: error / failed / cancelled / completed / done ...
    request_id: str | None = None  # None -> generated req-<uuid>
    at: RelTime = "-10m"
    duration_s: int = 30
    message: str | None = None  # action message: None, or "Error" when an event failed
    events: list[Event] = Field(default_factory=list)
    # final server state after the attempt (None -> unchanged)
    server_status: str | None = None
    vm_state: str | None = None
    task_state: str | None = None
    host_after: str | None = None
    fault: dict[str, str | int] | None = (
        None  # {code, message, details}; shown only if ERROR
    )
    # log lines written by this attempt: host name (or "mgmt:<deployment>") -> path -> lines
    logs: dict[str, dict[str, list[LogLine]]] = Field(default_factory=dict)
    notifications: list[Notification] = Field(default_factory=list)
    # synchronous API error instead of a 202 (e.g. 409 wrong state, 400 same host)
    api_error: dict[str, str | int] | None = None  # {code, message}
    # leftovers the attempt leaves behind on the destination
    leaves_inactive_binding: bool = False
    leaves_allocation: bool = False
    migration_id: int | None = None
    # an in-progress live migration's last job figures (status running): flat figures
    # are a migration that does not converge
    progress: Progress | None = None


class Server(_Strict):
    name: str
    id: str | None = None  # None -> stable uuid derived from scenario + name
    project: str = "demo"
    flavor: str
    image_properties: dict[str, str] = Field(default_factory=dict)
    host: str
    status: str = "ACTIVE"
    vm_state: str = "active"
    task_state: str | None = None
    power_state: int = 1
    locked: bool = False
    availability_zone: str | None = None  # None -> host's az
    pinned_availability_zone: str | None = None
    boot_from_volume: bool = False
    volumes: list[Volume] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=lambda: [Port()])
    history: list[Outcome] = Field(default_factory=list)
    on_migrate: Outcome | None = None  # what POST /servers/{id}/action does now
    instance_name: str | None = None  # libvirt domain name; None -> instance-0000XXXX


class Pod(_Strict):
    """A management-plane pod (self-hosted PCD only)."""

    deployment: (
        str  # nova-api-osapi, nova-conductor, nova-scheduler, placement-api, ...
    )
    phase: Literal["Running", "Pending", "Failed", "CrashLoopBackOff"] = "Running"
    ready: bool = True
    restarts: int = 0
    logs: list[LogLine] = Field(default_factory=list)


class Expect(_Strict):
    """What the project's own tests expect migrate-diag to conclude."""

    vm: str
    root_cause: (
        str | None
    )  # an id from shared/root-causes.md, or None for a healthy region
    target_host: str | None = None
    # the migration kind to diagnose (CLI --kind) when the VM has no record of it,
    # e.g. an evacuation the API refused before creating one
    kind: Literal["live-migration", "migration", "evacuation", "resize"] | None = None
    also: list[str] = Field(default_factory=list)
    # the primary finding's confidence (shared/root-causes.md rules of evidence)
    confidence: Literal["confirmed", "likely", "possible"] | None = None
    # root causes that must not be reported `confirmed` anywhere in the diagnosis
    not_confirmed: list[str] = Field(default_factory=list)
    migration: str | None = None  # CLI --migration
    ssh: bool = True  # False: diagnose with SSH to the hypervisors turned off
    # the CLI's exit status when not the one its conclusion implies (2: usage error)
    exit_code: int | None = None


class Scenario(_Strict):
    name: str
    description: str
    mode: Literal["saas", "self-hosted"] = "self-hosted"
    region: str = "region-one"
    namespace: str = "pcd-region-one"
    microversion_max: str = "2.96"
    hosts: dict[str, Host]
    aggregates: list[Aggregate] = Field(default_factory=list)
    flavors: list[Flavor]
    servers: list[Server]
    pods: list[Pod] = Field(default_factory=list)
    expect: Expect | None = None
