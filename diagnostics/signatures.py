"""The exact failure strings of ../shared/failure-signatures.md, compiled, plus log parsers.

Every pattern is unanchored at the start, so it matches both the bare message and the
wrapped forms Nova produces (§0.5, §3.2): ``Migration pre-check error: ``,
``Error while check_can_live_migrate_source from A to host B: <Type>_Remote ``,
``Migration error: ``, ``Live Migration failure: ``. Names follow the catalog's numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diagnostics.evidence.types import (
    DestHostLogs,
    InstanceActions,
    LogLine,
    Server,
    SourceHostLogs,
)
from diagnostics.model import Citation, RootCauseId

_S = re.S
_M = re.M

# F1 libvirt connectivity and TLS
LIVE_MIGRATION_FAILURE = re.compile(
    r"Live Migration failure: (?P<libvirt_msg>.+?)(?:: libvirt\.libvirtError: .*)?$", _M
)
MIGRATION_ABORTED = re.compile(r"Migration operation has aborted")
REMOTE_URI = re.compile(
    r"Failed to connect to remote libvirt URI (?P<uri>qemu\+(?P<scheme>\w+)://"
    r"(?P<dest>[^/\s]+)/system)(?::\s*(?P<cause>.+))?"
)
SOCKET_CONNECT = re.compile(
    r"unable to connect to server at '(?P<host>[^']+):(?P<port>\d+)': "
    r"(?P<errno>Connection refused|No route to host|Connection timed out)"
)
PEER_CERT = re.compile(r"authentication failed: Failed to verify peer's certificate")
CERT_VALIDATION = re.compile(r"Certificate failed validation: (?P<why>.+)")
CERT_OWNER = re.compile(r"owner does not match the hostname (?P<host>\S+)")
CERT_TIMES = re.compile(
    r"The (?P<which>server|client|CA) certificate (?P<file>\S+) "
    r"(?P<state>has expired|is not yet active)"
)
CERT_READ = re.compile(
    r"Cannot read (?P<what>CA certificate|certificate|private key) '(?P<path>[^']+)'"
)
CONN_DROPPED = re.compile(
    r"(?P<what>End of file while reading data|Cannot recv data|Cannot write data)"
    r"(?::\s*(?P<detail>.*))?"
)
QEMU_TLS = re.compile(
    r"Unable to access credentials (?P<path>/\S+)"
    r"|Cannot (?:write to|read from) TLS channel: (?P<why>.+)"
)
DRIVE_MIRROR = re.compile(r"unable to execute QEMU command 'drive-mirror': (?P<why>.+)")
DOMAIN_ACTIVE = re.compile(r"domain '(?P<dom>[^']+)' is already active")
PRECHECK_TIMEOUT = re.compile(
    r"Timeout while checking if we can live migrate to host: (?P<dest>\S+)"
)

# F1b timeouts and aborts
NOT_COMPLETED = re.compile(r"Live migration not completed after (?P<secs>\d+) sec")
CANCELLED = re.compile(r"Migration operation was cancelled")
ABORTED_BY_CLIENT = re.compile(r"operation aborted: .*canceled by client")
PROGRESS = re.compile(
    r"Migration running for (?P<secs>\d+) secs, memory (?P<mem>\d+)% remaining"
    r".*?disk (?P<disk>\d+)% remaining"
)
STUCK = re.compile(r"Live migration stuck for (?P<secs>\d+) sec")

# F2 scheduling
NO_VALID_HOST = re.compile(r"No valid host was found\.(?P<reason>[^\n]*)")
NO_VALID_HOST_COLD = re.compile(r"No valid host found for (?P<op>cold migrate|resize)")
MAX_RETRIES = re.compile(
    r"Exceeded max scheduling retries (?P<n>\d+) for instance "
    r"(?P<uuid>[0-9a-f-]{36}) during live migration"
)
EXHAUSTED = re.compile(r"Exhausted all hosts available for retrying")
FILTER_ZERO = re.compile(r"Filter (?P<filter>\w+) returned 0 hosts")
NO_CANDIDATES = re.compile(r"Got no allocation candidates from the Placement API")
AGG_EXTRA_SPECS = re.compile(
    r"fails flavor extra_specs requirements\. (?:Extra_spec (?P<key>\S+) is not in "
    r"aggregate|'(?P<have>.*)' do not match '(?P<want>.*)')"
)
AZ_REQUESTED = re.compile(
    r"Availability Zone '(?P<az>[^']+)' requested\. (?P<host>.+) has AZs: (?P<host_azs>.+)"
)
CINDER_AZ = re.compile(r"are not in the same availability[_ ]zone")
SKIPPING_HOST = re.compile(r"Skipping host: (?P<host>\S+) because: (?P<reason>.+)")
HOST_NOT_FOUND = re.compile(
    r"Compute host (?P<host>\S+) (?:could not be found|not found)"
)

# F3 CPU
UNACCEPTABLE_CPU = re.compile(
    r"Unacceptable CPU info: CPU doesn't have compatibility\."
    r"(?:\s*(?P<ret>.*?)\s*Refer to)?",
    _S,
)
MISSING_FEATURES = re.compile(
    r"(?:guest CPU doesn't match specification: missing features"
    r"|Host CPU does not provide required features): (?P<features>[\w,.\- ]+)"
)
HYPERVISOR_MISMATCH = re.compile(
    r"The supplied hypervisor type of is invalid\."
    r"|requires a newer hypervisor version than has been provided"
)

# F4 resources
LACK_OF_MEMORY = re.compile(
    r"Lack of memory\(host:(?P<avail>-?[\d.]+) <= instance:(?P<need>\d+)\)"
)
DISK_TOO_LARGE = re.compile(
    r"Disk of instance is too large\(available on destination host:(?P<avail>\d+) "
    r"< need:(?P<need>\d+)\)"
)
INSUFFICIENT_COMPUTE = re.compile(
    r"Insufficient compute resources: (?P<reason>.+?)\.?$", _M
)
PLACEMENT_REFUSED = re.compile(
    r"Unable to create allocation for '(?P<rc>\w+)' on resource provider "
    r"'(?P<rp>[0-9a-f-]{36})'\. The requested amount would "
    r"(?P<why>exceed the capacity|violate inventory constraints)"
)
FORCED_HOST_CAPACITY = re.compile(
    r"Unable to move instance (?P<uuid>[0-9a-f-]{36}) to host (?P<host>\S+)\. "
    r"(?P<why>There is not enough capacity|The instance has complex allocations)"
)
ALLOCATION_RACE = re.compile(
    r"Failed to (?:update|move) allocations (?:for|from) consumer"
    r"|Unable to replace instance claim on source"
)

# F5 storage
NOT_SHARED = re.compile(r"is not on shared storage: (?P<reason>.+)")
NOT_LOCAL = re.compile(
    r"is not on local storage: Block migration can not be used with shared storage"
)
MAPPED_VOLUMES = re.compile(
    r"Cannot block migrate instance (?P<uuid>\S+) with mapped volumes"
)
EVAC_SHARED = re.compile(r"Invalid state of instance files on shared storage")
DISK_EXISTS = re.compile(r"The supplied disk path \((?P<path>[^)]+)\) already exists")
DEVICE_NOT_FOUND = re.compile(r"Volume device not found at (?P<dev>\S*)\.")
PORTAL_NOT_FOUND = re.compile(
    r"Unable to find target portal(?: in)? (?P<portal>\S+?)\.?(?:\s|$)"
    r"|Could not find any paths for the volume|Unable to login to iSCSI Target Portal",
    _M,
)
ISCSI_LOGIN = re.compile(
    r"Failed to login iSCSI target (?P<iqn>\S+) on portal (?P<portal>\S+) "
    r"\(exit code (?P<rc>\d+)\)"
    r"|Failed to connect to iSCSI portal|Could not log into all portals|No dm was created"
)
LUN_NOT_FOUND = re.compile(
    r"LUN (?P<lun>\d+) on iSCSI portal (?P<portal>\S+) not found on sysfs"
)
ISCSIADM_ERROR = re.compile(
    r"initiator reported error \((?P<code>\d+) - (?P<msg>[^)]+)\)"
)
ATTACHMENT_FAILED = re.compile(
    r"(?:Create|Update) attachment failed for (?:volume|attachment) "
    r"(?P<id>[0-9a-f-]{36})\. Error: (?P<msg>.+) Code: (?P<code>\d+)"
    r"|Unable to update (?:the )?attachment"
)
# cinder-volume on the storage node, when the attachment update reaches the backend
# (cinder/volume/manager.py::_connection_create; targets/lio.py; exception.py): the driver
# could not validate the connector, export the volume or add the initiator to the target.
# ``err`` is the driver's reason (the closing ")." may be cut off with it).
CINDER_BACKEND = re.compile(
    r"(?:Driver initialize connection failed|Validate volume connection failed) "
    r"\(error: (?P<err>(?:(?!\)\.)[^\n])+)"
    r"|Create export for volume failed \((?P<export>(?:(?!\)\.)[^\n])+)"
    r"|Failed to export for volume: (?P<reason>[^\n]+)"
    r"|Failed to add initiator iqn (?P<iqn>\S+) to target"
    r"|Failed to (?:create|attach) iscsi target for volume(?: id:)? ?(?P<vol>[0-9a-f-]{36})"
    r"|RtstoolError: (?P<rtstool>[^\n'\\]+)",
    _M | re.I,
)

# F6 network
BINDING_FAILED = re.compile(
    r"Binding failed for port (?P<port>[0-9a-f-]{36})(?: and host (?P<host>\S+)\.|, "
    r"please check neutron logs)"
)
BINDING_NOT_CREATED = re.compile(
    r"Binding for port (?P<port>\S+) on host (?P<host>\S+) could not be created or updated"
)
BINDING_EXISTS = re.compile(
    r"Binding for port (?P<port>\S+) on host (?P<host>\S+) already exists"
)
FAILED_TO_BIND = re.compile(
    r"Failed to bind port (?P<port>\S+) on host (?P<host>\S+) for vnic_type (?P<vnic>\w+)"
)
DEAD_AGENT = re.compile(r"Refusing to bind port (?P<port>\S+) to dead agent")
NO_OVN_CHASSIS = re.compile(
    r"Refusing to bind port (?P<port>\S+) due to no OVN chassis for host: (?P<host>\S+)"
)
PHYSNET = re.compile(r"not supporting physical network: (?P<physnet>\S+)")
ACTIVATE_FAILED = re.compile(
    r"Failed to activate binding for port (?P<port>[^\s;]+) on host (?P<host>[^\s;]+)"
)
VIF_TIMEOUT = re.compile(
    r"Timed out waiting for events: (?P<events>\[.*?\])"
    r"|Neutron reported failure during live migration with (?P<event>\S+)"
    r"|Failed waiting for network virtual interfaces to be plugged"
    r"|Timeout waiting for \[(?P<spawn_events>.*?)\] for instance with vm_state"
    r"|Virtual Interface creation failed"
)
PCI_VIF = re.compile(r"Cannot live migrate VIF with related PCI")

# F7 services, state, SSH, devices
SERVICE_UNAVAILABLE = re.compile(
    r"Compute service of (?P<host>\S+) is unavailable at this time"
)
SERVICE_IN_USE = re.compile(
    r"Compute service of (?P<host>\S+) is still in use"
    r"|Instance compute service state on (?P<log_host>\S+) expected to be down, but it was up"
)
SAME_HOST = re.compile(
    r"Unable to migrate instance \((?P<uuid>[^)]+)\) to current host \((?P<host>[^)]+)\)"
    r"|Cannot migrate to the host where the server exists"
    r"|The target host can't be the same one"
)
INVALID_STATE = re.compile(
    r"Cannot '(?P<action>[\w-]+)' instance (?P<uuid>[0-9a-f-]{36}) while it is in "
    r"(?P<attr>vm_state|task_state|power_state) (?P<state>\w+)"
)
LOCKED = re.compile(r"Instance (?P<uuid>\S+) is locked")
POWER_STATE = re.compile(r"in power_state (?P<state>\w+)\. Cannot live migrate")
# Nova cuts event details and faults to 255 bytes: the stderr may lose its closing quote
SSH_FAILED = re.compile(
    r"not able to execute ssh command: "
    r"(?:.*?Command: ssh (?:-o \S+ )*(?P<target>[^\s-]\S*))?"
    r"(?:.*?Stderr: '(?P<stderr>[^']*)'?)?",
    _S,
)
DISK_COPY = re.compile(
    r"Command: (?P<cmd>scp|rsync) (?:.*?Exit code: (?P<rc>\d+))?", _S
)
SSH_STDERR_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("host key verification failed", re.compile(r"Host key verification")),
    ("public key refused", re.compile(r"Permission denied \(publickey[^)]*\)")),
    ("SSH connection refused", re.compile(r"Connection refused")),
    ("host name does not resolve", re.compile(r"Could not resolve hostname")),
    ("no route to host", re.compile(r"No route to host")),
)
UNSUPPORTED_FEATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("SEV memory encryption", re.compile(r"not supported for SEV-enabled instance")),
    (
        "vTPM",
        re.compile(
            r"not supported for vTPM-enabled instance|vTPM live migration is not"
        ),
    ),
    ("vTPM secret missing", re.compile(r"TPM secret was not found")),
    ("vDPA ports", re.compile(r"not supported for instance with vDPA ports")),
    (
        "accelerators",
        re.compile(r"Feature not supported with instances that have accelerators"),
    ),
    (
        "PCI passthrough",
        re.compile(
            r"non-VIF related PCI requests|explicitly request live-migratable devices"
        ),
    ),
    (
        "persistent memory",
        re.compile(r"Cannot live migrate with virtual persistent memory"),
    ),
    ("mediated devices (mdev)", re.compile(r"Source mdev types .+? are not supported")),
    (
        "NUMA with pre-Train computes",
        re.compile(r"cell contains compute nodes older than train"),
    ),
    ("serial console", re.compile(r"must disable serial console")),
    ("cross-cell move", re.compile(r"across cells|Unable to determine in which cell")),
)

_WRAPPER = re.compile(
    r"^\s*(?:Migration pre-check error: |Migration error: |Live Migration failure: "
    r"|Error while check_can_live_migrate_source from \S+ to host \S+: (?:\w+_Remote )?"
    r"|\w+_Remote: )"
)


def unwrap(message: str) -> str:
    """Strip Nova's wrappers (repeatedly) so the inner message is classified on its own."""
    previous = None
    while previous != message:
        previous, message = message, _WRAPPER.sub("", message, count=1)
    return message


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureHit:
    """One catalog signature found in a text; ``groups`` holds its named groups."""

    name: str
    family: RootCauseId
    groups: dict[str, str]


_R = RootCauseId
CATALOG: tuple[tuple[str, RootCauseId, re.Pattern[str]], ...] = (
    ("cert-times", _R.LIBVIRT_TLS, CERT_TIMES),
    ("cert-owner", _R.LIBVIRT_TLS, CERT_OWNER),
    ("cert-validation", _R.LIBVIRT_TLS, CERT_VALIDATION),
    ("cert-read", _R.LIBVIRT_TLS, CERT_READ),
    ("peer-cert", _R.LIBVIRT_TLS, PEER_CERT),
    ("socket-connect", _R.LIBVIRT_TLS, SOCKET_CONNECT),
    ("remote-uri", _R.LIBVIRT_TLS, REMOTE_URI),
    ("qemu-tls", _R.LIBVIRT_TLS, QEMU_TLS),
    ("not-completed", _R.MIGRATION_TIMEOUT, NOT_COMPLETED),
    ("cancelled", _R.MIGRATION_TIMEOUT, CANCELLED),
    ("aborted-by-client", _R.MIGRATION_TIMEOUT, ABORTED_BY_CLIENT),
    ("stuck", _R.MIGRATION_TIMEOUT, STUCK),
    ("agg-extra-specs", _R.AZ_AGGREGATE_MISMATCH, AGG_EXTRA_SPECS),
    ("az-requested", _R.AZ_AGGREGATE_MISMATCH, AZ_REQUESTED),
    ("cinder-az", _R.AZ_AGGREGATE_MISMATCH, CINDER_AZ),
    ("no-valid-host", _R.NO_VALID_HOST, NO_VALID_HOST),
    ("no-valid-host-cold", _R.NO_VALID_HOST, NO_VALID_HOST_COLD),
    ("max-retries", _R.NO_VALID_HOST, MAX_RETRIES),
    ("exhausted", _R.NO_VALID_HOST, EXHAUSTED),
    ("unacceptable-cpu", _R.CPU_INCOMPATIBLE, UNACCEPTABLE_CPU),
    ("missing-features", _R.CPU_INCOMPATIBLE, MISSING_FEATURES),
    ("lack-of-memory", _R.INSUFFICIENT_RESOURCES, LACK_OF_MEMORY),
    ("disk-too-large", _R.INSUFFICIENT_RESOURCES, DISK_TOO_LARGE),
    ("insufficient-compute", _R.INSUFFICIENT_RESOURCES, INSUFFICIENT_COMPUTE),
    ("placement-refused", _R.INSUFFICIENT_RESOURCES, PLACEMENT_REFUSED),
    ("forced-host-capacity", _R.INSUFFICIENT_RESOURCES, FORCED_HOST_CAPACITY),
    ("not-shared", _R.STORAGE_VOLUME, NOT_SHARED),
    ("not-local", _R.STORAGE_VOLUME, NOT_LOCAL),
    ("mapped-volumes", _R.STORAGE_VOLUME, MAPPED_VOLUMES),
    ("evac-shared", _R.STORAGE_VOLUME, EVAC_SHARED),
    ("device-not-found", _R.STORAGE_VOLUME, DEVICE_NOT_FOUND),
    ("portal-not-found", _R.STORAGE_VOLUME, PORTAL_NOT_FOUND),
    ("iscsi-login", _R.STORAGE_VOLUME, ISCSI_LOGIN),
    ("iscsiadm-error", _R.STORAGE_VOLUME, ISCSIADM_ERROR),
    ("attachment-failed", _R.STORAGE_VOLUME, ATTACHMENT_FAILED),
    ("cinder-backend", _R.STORAGE_VOLUME, CINDER_BACKEND),
    ("binding-failed", _R.PORT_BINDING, BINDING_FAILED),
    ("binding-not-created", _R.PORT_BINDING, BINDING_NOT_CREATED),
    ("failed-to-bind", _R.PORT_BINDING, FAILED_TO_BIND),
    ("dead-agent", _R.PORT_BINDING, DEAD_AGENT),
    ("no-ovn-chassis", _R.PORT_BINDING, NO_OVN_CHASSIS),
    ("activate-failed", _R.PORT_BINDING, ACTIVATE_FAILED),
    ("vif-timeout", _R.PORT_BINDING, VIF_TIMEOUT),
    ("service-unavailable", _R.COMPUTE_SERVICE_DOWN, SERVICE_UNAVAILABLE),
    ("service-in-use", _R.EVACUATION_SOURCE_UP, SERVICE_IN_USE),
    ("same-host", _R.INVALID_VM_STATE, SAME_HOST),
    ("invalid-state", _R.INVALID_VM_STATE, INVALID_STATE),
    ("locked", _R.INVALID_VM_STATE, LOCKED),
    ("power-state", _R.INVALID_VM_STATE, POWER_STATE),
    ("ssh-failed", _R.COLD_MIGRATION_SSH, SSH_FAILED),
    ("disk-copy", _R.COLD_MIGRATION_SSH, DISK_COPY),
    *((f"unsupported:{n}", _R.UNSUPPORTED_DEVICE, p) for n, p in UNSUPPORTED_FEATURES),
    ("binding-exists", _R.STALE_LEFTOVERS, BINDING_EXISTS),
    ("disk-exists", _R.STALE_LEFTOVERS, DISK_EXISTS),
    ("domain-active", _R.STALE_LEFTOVERS, DOMAIN_ACTIVE),
)


def classify_text(text: str) -> list[SignatureHit]:
    """Every catalog signature in ``text`` (wrapped or bare), in catalog order."""
    hits = []
    for name, family, pattern in CATALOG:
        m = pattern.search(text)
        if m:
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            hits.append(SignatureHit(name=name, family=family, groups=groups))
    return hits


# ---- raw failure lines for the `unknown` verdict ---------------------------------------------

_MAX_LOG_CITES = 15


def _is_error(line: LogLine) -> bool:
    level = line.level
    return level in {"ERROR", "CRITICAL"}


def raw_failure_lines(
    actions: InstanceActions | None,
    server: Server | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
) -> tuple[Citation, ...]:
    """The raw fault, the failed events' details and ERROR log lines, for a human to read."""
    cites: list[Citation] = []
    if server is not None and server.fault is not None:
        text = server.fault.message + (
            f"\n{server.fault.details}" if server.fault.details else ""
        )
        cites.append(Citation(source=f"{server.provenance} fault", text=text.strip()))
    action = actions.migration_action if actions is not None else None
    if actions is not None and action is not None:
        for event in action.failed_events:
            last = (event.traceback or "").strip().splitlines()
            body = event.details or (last[-1] if last else "Error")
            where = f"{actions.call()} event {event.event}"
            cites.append(
                Citation(
                    source=where + (f" on {event.host}" if event.host else ""),
                    text=body,
                )
            )
    for logs in (source_logs, dest_logs):
        if logs is not None:
            errors = [line.cite() for line in logs.lines if _is_error(line)]
            cites.extend(errors[:_MAX_LOG_CITES])
    return tuple(cites)
