"""The exact failure strings of ../shared/failure-signatures.md, compiled, and where
Nova puts failure text (``failure_texts``).

Every pattern is unanchored at the start, so it matches both the bare message and the
wrapped forms Nova produces (§0.5, §3.2): ``Migration pre-check error: ``,
``Error while check_can_live_migrate_source from A to host B: <Type>_Remote ``,
``Migration error: ``, ``Resize error: ``, ``Live Migration failure: ``. Names follow
the catalog's numbering.

Nova stores instance-action event details and fault messages cut to 255 bytes
(``safe_truncate`` below, as nova/compute/utils.py), so no pattern may need text that
the cut removes: a closing quote, a trailing exit code, the end of a long reason. Each
pattern is tested on the full text, the truncated text and the log line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from diagnostics.evidence.types import (
    DestHostLogs,
    InstanceActions,
    LogLine,
    Server,
    SourceHostLogs,
)
from diagnostics.model import Citation

# Nova's limit for instance-action event details and fault messages, in UTF-8 bytes
NOVA_TEXT_MAX = 255


def safe_truncate(value: str, length: int = NOVA_TEXT_MAX) -> str:
    """``value`` cut to ``length`` UTF-8 bytes without splitting a character.

    As ``nova.compute.utils.safe_truncate``: encode, cut the bytes, then drop trailing
    bytes until what is left decodes (a character is 1-4 bytes).
    """
    data = value.encode("utf-8")[:length]
    while True:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            data = data[:-1]


_S = re.S
_M = re.M

# F1 libvirt connectivity and TLS
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
QEMU_TLS = re.compile(
    r"Unable to access credentials (?P<path>/\S+)"
    r"|Cannot (?:write to|read from) TLS channel: (?P<why>.+)"
)
DOMAIN_ACTIVE = re.compile(r"domain '(?P<dom>[^']+)' is already active")
# 1.8: the connection between the hosts dropped mid-migration (not an abort Nova asked for)
STREAM_DROPPED = re.compile(
    r"(?P<what>End of file while reading data|Cannot recv data|Cannot write data)"
)
# what kills a live migration's stream from outside the guest: a rival of a timeout
STREAM_BROKEN = re.compile(
    "|".join(p.pattern for p in (STREAM_DROPPED, SOCKET_CONNECT, REMOTE_URI, QEMU_TLS))
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

# F5 storage: Ceph RBD. Nova hands an RBD volume to libvirt/qemu, which open it with
# librbd on the destination: the cephx secret must be defined in libvirt there (its
# UUID is Nova's rbd_secret_uuid), the key must be the Ceph user's and its caps allow the
# pool. Seen in the source's "Live Migration failure: ..." or the destination's log.
RBD_SECRET_MISSING = re.compile(
    r"Secret not found: no secret with matching uuid '?(?P<uuid>[0-9a-f-]{36})"
)
# qemu's librbd (e.g. "unable to execute QEMU command 'blockdev-add': error connecting:
# Permission denied"): cephx refused the key, or the monitors did not answer
RBD_CONNECT = re.compile(
    r"error connecting: (?P<why>Permission denied|Connection timed out"
    r"|No such file or directory)"
)
# os-brick's linuxrbd and Cinder's RBD driver (rados.connect failed)
CEPH_CLUSTER = re.compile(r"Error connecting to ceph cluster")
# an image another client (often one that crashed) still holds open
RBD_BUSY = re.compile(
    r"ImageBusy error raised while \w+ rbd volume|ImageBusy: \[errno 16\]"
)
# F5 storage: NFS. Nova's libvirt NFS volume driver runs `mount -t nfs <export> <dir>`
# (nova/virt/libvirt/volume/mount.py; os-brick's remotefs for Cinder). Nova's 255-byte
# cut keeps the command and may drop mount.nfs's stderr, so the command alone matches.
NFS_REFUSED = re.compile(
    r"mount\.nfs4?: (?P<why>access denied by server|Connection timed out"
    r"|No route to host|Connection refused|Protocol not supported"
    r"|requested NFS version or transport protocol is not supported"
    r"|mounting \S+ failed, reason given by server: No such file or directory)"
)
NFS_MOUNT = re.compile(
    r"NFS mount failed for share (?P<share>[^\s.]+(?:\.[^\s.]+)*)"
    r"|Command: (?:\S+ )*?mount -t nfs4? (?:-o \S+ )?(?P<export>[^\s:]+:/\S*)"
)
# ESTALE on the mounted share: the server restarted or re-exported it
NFS_STALE = re.compile(r"\[Errno 116\] Stale file handle|Stale file handle")

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

# ---- where Nova puts failure text ----------------------------------------------------------

_MAX_LOG_CITES = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureText:
    """One text Nova recorded about a failure, with where it came from.

    ``part`` is ``details`` or ``traceback`` of a failed event (``result`` when the event
    carries neither: its text is then just "Error"), or ``fault`` for the server fault.
    """

    origin: str  # event / fault
    part: str
    source: str
    text: str


def failure_texts(
    actions: InstanceActions | None, server: Server | None
) -> Iterator[FailureText]:
    """The failed events' details and tracebacks, in event order, then the server fault."""
    action = actions.migration_action if actions is not None else None
    if actions is not None and action is not None:
        for event in action.failed_events:
            where = f"{actions.call()} event {event.event}"
            where += f" on {event.host}" if event.host else ""
            parts = [(p, t) for p, t in (("details", event.details),
                                         ("traceback", event.traceback)) if t]  # fmt: skip
            for part, text in parts or [("result", "Error")]:
                yield FailureText(origin="event", part=part, source=where, text=text)
    if server is not None and server.fault is not None:
        fault = f"{server.fault.message}\n{server.fault.details or ''}".strip()
        yield FailureText(
            origin="fault",
            part="fault",
            source=f"{server.provenance} fault",
            text=fault,
        )


def _is_error(line: LogLine) -> bool:
    return line.level in {"ERROR", "CRITICAL"}


def raw_failure_lines(
    actions: InstanceActions | None,
    server: Server | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
) -> tuple[Citation, ...]:
    """The raw fault, the failed events' details and ERROR log lines, for a human to read.

    One line per failed event: its details, else the last line of its traceback.
    """
    texts = list(failure_texts(actions, server))
    cites = [
        Citation(source=t.source, text=t.text) for t in texts if t.origin == "fault"
    ]
    shown: set[str] = set()
    for t in texts:
        if t.origin != "event" or t.source in shown:
            continue
        shown.add(t.source)
        last = t.text.strip().splitlines()
        body = last[-1] if t.part == "traceback" and last else t.text
        cites.append(Citation(source=t.source, text=body))
    for logs in (source_logs, dest_logs):
        if logs is not None:
            errors = [line.cite() for line in logs.lines if _is_error(line)]
            cites.extend(errors[:_MAX_LOG_CITES])
    return tuple(cites)
