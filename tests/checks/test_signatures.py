"""diagnostics.signatures: every pattern on real strings, full, cut to 255 bytes as Nova
stores them, and logged; Nova's safe_truncate; the failure texts; log parsers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnostics import signatures as sig
from diagnostics.evidence.log_lines import parse_log_line
from diagnostics.evidence.types import Fault, LogLine
from tests.checks.conftest import (
    DST,
    REQ,
    SRC,
    VM_ID,
    actions,
    dest_logs,
    event,
    server,
    src_logs,
)

PORT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
RP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
IQN = "iqn.2010-10.org.openstack:volume-5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
REMOTE = (f"Migration pre-check error: Error while check_can_live_migrate_source from {SRC} "
          f"to host {DST}: InvalidSharedStorage_Remote ")  # fmt: skip
# Each signature (by its name in diagnostics.signatures) with the full texts Nova, libvirt,
# Neutron or os-brick emit, in the wrapper Nova stores them in: failure-signatures.md.
SAMPLES: dict[str, list[str]] = {
    "REMOTE_URI": [f"Live Migration failure: operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: Cannot recv data: Connection reset by peer: libvirt.libvirtError: operation failed"],
    "SOCKET_CONNECT": [f"Live Migration failure: operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: unable to connect to server at '{DST}:16514': Connection refused"],
    "PEER_CERT": [f"Live Migration failure: operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: authentication failed: Failed to verify peer's certificate"],
    "CERT_VALIDATION": ["2026-11-25 19:02:11.498+0000: 2211: error : virNetTLSContextCheckCertificate:1093 : Certificate check failed Certificate failed validation: The certificate hasn't got a known issuer."],
    "CERT_OWNER": [f"Certificate check failed Certificate [session] owner does not match the hostname {DST}"],
    "CERT_TIMES": ["The server certificate /etc/pki/libvirt/servercert.pem has expired", "The client certificate /etc/pki/libvirt/clientcert.pem is not yet active"],
    "CERT_READ": ["Live Migration failure: Cannot read CA certificate '/etc/pki/CA/cacert.pem': No such file or directory"],
    "QEMU_TLS": ["Live Migration failure: internal error: qemu unexpectedly closed the monitor: job 'migration out' failed: Cannot read from TLS channel: The TLS connection was non-properly terminated."],
    # 1.8, openstack-k8s-operators/nova-operator#621: the connection dropped mid-migration
    "STREAM_DROPPED": [f"Live Migration failure: operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: End of file while reading data: Input/output error", "Live Migration failure: Cannot recv data: Connection reset by peer"],
    "STREAM_BROKEN": [f"Live Migration failure: operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: End of file while reading data: Input/output error", f"Live Migration failure: operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: unable to connect to server at '{DST}:16514': Connection timed out"],
    # Ceph RBD: libvirt on the destination lacks the cephx secret (Nova's rbd_secret_uuid);
    # qemu's librbd refused (cephx); os-brick / Cinder's RBD driver; cinder/volume/drivers/rbd.py
    "RBD_SECRET_MISSING": ["Live Migration failure: Secret not found: no secret with matching uuid '457eb676-33da-42ec-9a8c-9293d545c337'", "libvirt.libvirtError: Secret not found: no secret with matching uuid '457eb676-33da-42ec-9a8c-9293d545c337'"],
    "RBD_CONNECT": ["libvirt.libvirtError: internal error: unable to execute QEMU command 'blockdev-add': error connecting: Permission denied"],
    "CEPH_CLUSTER": ["Error connecting to ceph cluster."],
    "RBD_BUSY": ["ImageBusy error raised while deleting rbd volume. This may have been caused by a connection from a client that has crashed and, if so, may be resolved by retrying the delete after 30 seconds has elapsed.: ImageBusy: [errno 16] error removing image"],
    # NFS: os-brick's remotefs (_do_mount, _mount_nfs) and Nova's mount -t nfs (processutils'
    # text: the 255-byte cut keeps the command, not always mount.nfs's stderr)
    "NFS_REFUSED": ["Failed to mount 10.20.0.60:/srv/cinder, reason: mount.nfs: access denied by server while mounting 10.20.0.60:/srv/cinder", "Failed to mount 10.20.0.60:/srv/cinder, reason: mount.nfs: Connection timed out"],
    "NFS_MOUNT": ["Unexpected error while running command.\nCommand: sudo nova-rootwrap /etc/nova/rootwrap.conf mount -t nfs 10.20.0.60:/srv/cinder /var/lib/nova/mnt/5b1f6a9e0c2d4e8f9a7b3c1d2e4f6a8b\nExit code: 32\nStdout: ''\nStderr: 'mount.nfs: access denied by server while mounting 10.20.0.60:/srv/cinder\\n'", "NFS mount failed for share 10.20.0.60:/srv/cinder. Error - {'pnfs': 'Unexpected error while running command.'}"],
    "NFS_STALE": ["[Errno 116] Stale file handle: '/var/lib/nova/mnt/5b1f6a9e0c2d4e8f9a7b3c1d2e4f6a8b/volume-5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f'"],
    "DOMAIN_ACTIVE": ["Live Migration failure: Requested operation is not valid: domain 'instance-0000002a' is already active"],
    "NOT_COMPLETED": [f"Live migration not completed after 3200 sec for instance {VM_ID}"],
    "CANCELLED": ["Migration operation was cancelled"],
    "ABORTED_BY_CLIENT": ["Live Migration failure: operation aborted: migration out job: canceled by client"],
    "PROGRESS": [f"[instance: {VM_ID}] Migration running for 30 secs, memory 85% remaining (bytes processed=1, remaining=2, total=3); disk 0% remaining (bytes processed=0, remaining=0, total=0)."],
    "STUCK": ["Live migration stuck for 150 sec"],
    "NO_VALID_HOST": ["No valid host was found. There are not enough hosts available."],
    "NO_VALID_HOST_COLD": ["No valid host found for cold migrate"],
    "MAX_RETRIES": [f"Exceeded maximum number of retries. Exceeded max scheduling retries 3 for instance {VM_ID} during live migration"],
    "EXHAUSTED": [f"Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {VM_ID}."],
    "FILTER_ZERO": ["Filter AggregateInstanceExtraSpecsFilter returned 0 hosts"],
    "NO_CANDIDATES": ["Got no allocation candidates from the Placement API. This could be due to insufficient resources or a temporary occurrence as compute nodes start up."],
    "AGG_EXTRA_SPECS": [f"({DST}, {DST}.example) ram: 61440MB disk: 400GB io_ops: 0 instances: 3 fails flavor extra_specs requirements. Extra_spec ssd is not in aggregate."],
    "AZ_REQUESTED": [f"Availability Zone 'az1' requested. ({DST}, {DST}) ram: 1MB has AZs: az2"],
    "CINDER_AZ": [f"Instance {VM_ID} and volume 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f are not in the same availability_zone. Instance is in az1. Volume is in az2"],
    "SKIPPING_HOST": [f"Skipping host: {DST} because: Unacceptable CPU info: CPU doesn't have compatibility."],
    "UNACCEPTABLE_CPU": ["Migration pre-check error: Unacceptable CPU info: CPU doesn't have compatibility.\n\n0\n\nRefer to http://libvirt.org/html/libvirt-libvirt-host.html#virCPUCompareResult"],
    "MISSING_FEATURES": ["Live Migration failure: operation failed: guest CPU doesn't match specification: missing features: avx512f,avx512vl"],
    "HYPERVISOR_MISMATCH": ["Migration pre-check error: The supplied hypervisor type of is invalid.", "The instance requires a newer hypervisor version than has been provided."],
    "LACK_OF_MEMORY": [f"Migration pre-check error: Unable to migrate {VM_ID} to {DST}: Lack of memory(host:2048 <= instance:4096)"],
    "DISK_TOO_LARGE": [f"Migration pre-check error: Unable to migrate {VM_ID}: Disk of instance is too large(available on destination host:10 < need:40)"],
    "INSUFFICIENT_COMPUTE": ["Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology."],
    "PLACEMENT_REFUSED": [f"Unable to create allocation for 'MEMORY_MB' on resource provider '{RP}'. The requested amount would exceed the capacity."],
    "FORCED_HOST_CAPACITY": [f"No valid host was found. Unable to move instance {VM_ID} to host {DST}. There is not enough capacity on the host for the instance."],
    "ALLOCATION_RACE": [f"Failed to update allocations for consumer {VM_ID}. Error: another process changed the consumer {VM_ID} after the report client read the consumer state during the claim", "No valid host was found. Unable to replace instance claim on source"],
    "NOT_SHARED": [f"{REMOTE}{SRC} is not on shared storage: Shared storage live-migration requires either shared storage or boot-from-volume with no local disks."],
    "NOT_LOCAL": [f"Migration pre-check error: Error while check_can_live_migrate_source from {SRC} to host {DST}: InvalidLocalStorage_Remote {SRC} is not on local storage: Block migration can not be used with shared storage."],
    "MAPPED_VOLUMES": [f"Migration pre-check error: Cannot block migrate instance {VM_ID} with mapped volumes. Selective block device migration is not supported with tunnelled block migrations."],
    "EVAC_SHARED": ["Invalid state of instance files on shared storage"],
    "DISK_EXISTS": [f"The supplied disk path (/opt/data/instances/{VM_ID}) already exists, it is expected not to exist."],
    "DEVICE_NOT_FOUND": ["Volume device not found at ."],
    "PORTAL_NOT_FOUND": ["Unable to find target portal 10.0.0.50:3260.", "Could not find any paths for the volume."],
    "ISCSI_LOGIN": [f"Failed to login iSCSI target {IQN} on portal 10.0.0.50:3260 (exit code 24).", "Could not log into all portals"],
    "LUN_NOT_FOUND": ["LUN 1 on iSCSI portal 10.0.0.50:3260 not found on sysfs after logging in."],
    "ISCSIADM_ERROR": ["iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)"],
    "ATTACHMENT_FAILED": [f"Update attachment failed for attachment {VM_ID}. Error: Unable to update the attachment. (HTTP 500) (Request-ID: req-11111111-2222-4333-8444-555555555555) Code: 500"],
    "CINDER_BACKEND": ["Failed to add initiator iqn iqn.1994-05.com.redhat:ab12 to target", "Create export for volume failed (Resource could not be found.)."],
    "BINDING_FAILED": [f"Migration pre-check error: Binding failed for port {PORT}, please check neutron logs for more information.", f"Binding failed for port {PORT} and host {DST}."],
    "BINDING_NOT_CREATED": [f"Binding for port {PORT} on host {DST} could not be created or updated."],
    "BINDING_EXISTS": [f"Migration pre-check error: Binding for port {PORT} on host {DST} already exists."],
    "FAILED_TO_BIND": [f"Failed to bind port {PORT} on host {DST} for vnic_type normal using segments [{{'id': 'x'}}]"],
    "DEAD_AGENT": [f"Refusing to bind port {PORT} to dead agent: agent-x"],
    "NO_OVN_CHASSIS": [f"Refusing to bind port {PORT} due to no OVN chassis for host: {DST}"],
    "PHYSNET": [f"Refusing to bind port {PORT} on host {DST} due to the OVN chassis bridge mapping physical networks ['physnet2'] not supporting physical network: physnet1"],
    "ACTIVATE_FAILED": [f"Failed to activate binding for port {PORT} on host {DST}; please check neutron logs for more information"],
    "VIF_TIMEOUT": ["Timed out waiting for events: [('network-vif-plugged', 'x')]. If these timeouts are a persistent issue it could mean the networking backend on the source or destination host is not sending these events as expected.", "Virtual Interface creation failed"],
    "PCI_VIF": ["Migration pre-check error: Cannot live migrate VIF with related PCI, Neutron does not support required port binding extension."],
    "SERVICE_UNAVAILABLE": [f"Migration pre-check error: Compute service of {DST} is unavailable at this time."],
    "SERVICE_IN_USE": [f"Compute service of {SRC} is still in use."],
    "SAME_HOST": [f"Unable to migrate instance ({VM_ID}) to current host ({SRC})."],
    "INVALID_STATE": [f"Cannot 'os-migrateLive' instance {VM_ID} while it is in vm_state stopped"],
    "LOCKED": [f"Instance {VM_ID} is locked"],
    "POWER_STATE": [f"Migration pre-check error: Instance {VM_ID} in power_state shutdown. Cannot live migrate while the instance is in this state."],
    "SSH_FAILED": [f"Resize error: not able to execute ssh command: Unexpected error while running command.\nCommand: ssh -o BatchMode=yes 10.20.1.13 mkdir -p /var/lib/nova/instances/{VM_ID}\nExit code: 255\nStdout: ''\nStderr: 'Host key verification failed.\\r\\n'"],
    "DISK_COPY": [f"Resize error: Unexpected error while running command.\nCommand: scp -r {DST}:/var/lib/nova/instances/{VM_ID}_resize/disk /var/lib/nova/instances/{VM_ID}/disk\nExit code: 1\nStdout: ''\nStderr: 'scp: Connection closed'"],
    "SSH_STDERR_KINDS:host key verification failed": ["Stderr: 'Host key verification failed.\\r\\n'"],
    "SSH_STDERR_KINDS:public key refused": [f"Stderr: 'pf9@{DST}: Permission denied (publickey,gssapi-keyex,gssapi-with-mic).\\r\\n'"],
    "SSH_STDERR_KINDS:SSH connection refused": [f"Stderr: 'ssh: connect to host {DST} port 22: Connection refused\\r\\n'"],
    "SSH_STDERR_KINDS:host name does not resolve": [f"Stderr: 'ssh: Could not resolve hostname {DST}: Name or service not known\\r\\n'"],
    "SSH_STDERR_KINDS:no route to host": [f"Stderr: 'ssh: connect to host {DST} port 22: No route to host\\r\\n'"],
    "UNSUPPORTED_FEATURES:SEV memory encryption": [f"Operation 'live-migration' not supported for SEV-enabled instance ({VM_ID})."],
    "UNSUPPORTED_FEATURES:vTPM": [f"Operation 'live-migration' not supported for vTPM-enabled instance ({VM_ID}).", "vTPM live migration is not supported by old nova-compute services. Upgrade your nova-compute services to Dalmatian (2024.2) or later."],
    "UNSUPPORTED_FEATURES:vTPM secret missing": ["TPM secret was not found. Try hard-rebooting the instance to recover."],
    "UNSUPPORTED_FEATURES:vDPA ports": [f"Operation 'live-migration' not supported for instance with vDPA ports ({VM_ID})."],
    "UNSUPPORTED_FEATURES:accelerators": ["Feature not supported with instances that have accelerators."],
    "UNSUPPORTED_FEATURES:PCI passthrough": ["Migration pre-check error: non-VIF related PCI requests for instance are not allowed for live migration.", "This request does not explicitly request live-migratable devices."],
    "UNSUPPORTED_FEATURES:persistent memory": ["Cannot live migrate with virtual persistent memory, the operation is not supported."],
    "UNSUPPORTED_FEATURES:mediated devices (mdev)": [f"Unable to migrate {VM_ID}: Source mdev types ['nvidia-35'] are not supported by this compute : ['nvidia-36']"],
    "UNSUPPORTED_FEATURES:NUMA with pre-Train computes": ["Instance has an associated NUMA topology, cell contains compute nodes older than train, and the enable_numa_live_migration workaround is disabled. Refusing to perform the live migration, as the instance NUMA topology, including related attributes such as CPU pinning, huge page and emulator thread pinning information, cannot be recalculated."],
    "UNSUPPORTED_FEATURES:serial console": ["Your destination node does not support retrieving listen addresses. In order for live migration to work properly you must disable serial console."],
    "UNSUPPORTED_FEATURES:cross-cell move": [f"Unable to force live migrate instance {VM_ID} across cells.", f"Unable to determine in which cell destination host {DST} lives."],
}  # fmt: skip
# what Nova puts in front of a message it stores as event details or a fault
WRAPPERS = ["{}", "Migration pre-check error: {}", "Migration error: {}", "Resize error: {}",
            "Live Migration failure: {}"]  # fmt: skip
OSLO = (f"2026-11-25 19:02:11.532 3521 ERROR nova.compute.manager [{REQ} 0f9e 4a1c - - "
        f"default default] [instance: {VM_ID}] ")  # fmt: skip
CASES = [(key, text) for key, texts in SAMPLES.items() for text in texts]


def _pattern(key: str) -> re.Pattern[str]:
    name, _, label = key.partition(":")
    value = getattr(sig, name)
    return value if not label else dict(value)[label]


def _signatures() -> set[str]:
    """Every failure pattern the module defines (tables by their labels)."""
    keys = {
        n for n, v in vars(sig).items() if isinstance(v, re.Pattern) and n.isupper()
    }
    for table in ("SSH_STDERR_KINDS", "UNSUPPORTED_FEATURES"):
        keys |= {f"{table}:{label}" for label, _ in getattr(sig, table)}
    return keys


def test_every_signature_has_real_samples() -> None:
    """A signature without a real sample is untested; a sample without a signature is stale."""
    assert set(SAMPLES) == _signatures()


@pytest.mark.parametrize(
    ("key", "text"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)]
)
@pytest.mark.parametrize(
    "wrapper",
    WRAPPERS,
    ids=["bare", "precheck", "migration-error", "resize-error", "libvirt"],
)
def test_signature_matches_full_truncated_and_logged_text(
    key: str, text: str, wrapper: str
) -> None:
    """Full text, Nova's 255-byte cut of the stored event detail or fault, and the log line."""
    pattern = _pattern(key)
    stored = wrapper.format(text)
    assert pattern.search(stored), "full text"
    assert pattern.search(sig.safe_truncate(stored, 255)), sig.safe_truncate(
        stored, 255
    )
    first_line = stored.split("\n", 1)[0] if "\n" in stored else stored
    assert pattern.search(OSLO + first_line) or pattern.search(OSLO + stored), (
        "log line"
    )


@pytest.mark.parametrize(
    ("line", "fmt", "when", "level"),
    [
        pytest.param(f"2026-11-25 19:02:11.532 3521 ERROR nova.virt.libvirt.driver [req-11111111-2222-4333-8444-555555555555 0f9e 4a1c - - default default] [instance: {VM_ID}] Live Migration failure: x",
                     "oslo", datetime(2026, 11, 25, 19, 2, 11, 532000, tzinfo=UTC), "ERROR", id="oslo"),
        pytest.param("2026-11-25 19:02:11.498+0100: 2211: error : virNetTLSContextCheckCertificate:1093 : Certificate check failed",
                     "libvirtd", datetime(2026, 11, 25, 18, 2, 11, 498000, tzinfo=UTC), "ERROR", id="libvirtd-offset"),
        pytest.param("2026-11-25T19:02:11.498571Z qemu-kvm: terminating on signal 15",
                     "qemu", datetime(2026, 11, 25, 19, 2, 11, 498571, tzinfo=UTC), None, id="qemu"),
    ],
)  # fmt: skip
def test_parse_log_line_formats(
    line: str, fmt: str, when: datetime, level: str | None
) -> None:
    """The three host formats parse to an aware UTC timestamp, level and request id."""
    parsed = parse_log_line("cmp-a-01:/log:1", line)
    assert (parsed.timestamp, parsed.level) == (when, level)
    if fmt == "oslo" and "req-" in line:
        assert parsed.request_id == "req-11111111-2222-4333-8444-555555555555"


def test_impossible_dates_parse_without_timestamp() -> None:
    """A line shaped like a log line but with month 13 keeps no timestamp."""
    parsed = parse_log_line("h:/log:1", "2026-13-45 99:02:11.532 1 ERROR x y")
    assert parsed.timestamp is None


@given(st.text())
def test_parse_log_line_never_raises(text: str) -> None:
    """Arbitrary text parses; timestamps, when present, are timezone-aware."""
    parsed = parse_log_line("h:/log:1", text)
    assert parsed.timestamp is None or parsed.timestamp.tzinfo is not None


@given(
    st.from_regex(r"\A\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,9})?([+-]\d{4}:|Z| \d+ [A-Z]+ )", fullmatch=False),
    st.text(max_size=80),
)  # fmt: skip
def test_parse_log_line_never_raises_on_near_misses(prefix: str, rest: str) -> None:
    """Timestamp-shaped prefixes with random digits never raise."""
    parsed = parse_log_line("h:/log:1", prefix + rest)
    assert parsed.timestamp is None or parsed.timestamp.utcoffset() is not None


def test_raw_failure_lines_cites_fault_events_and_error_lines() -> None:
    """For 'unknown', the fault, failed events' details and ERROR log lines are cited."""
    srv = server(status="ERROR", fault=Fault(code=500, message="Something odd"))
    acts = actions(event("compute_live_migration", "Weird failure"),
                   event("compute_pre_live_migration", None, traceback="Traceback\nKeyError: 'x'"))  # fmt: skip
    src = src_logs("2026-11-25 19:02:11.532 3521 ERROR nova.compute.manager boom",
                   "2026-11-25 19:02:11.532 3521 INFO nova.compute.manager fine")  # fmt: skip
    dst = dest_logs()
    dst = type(dst)(provenance="grep", host=DST,
                    lines=(LogLine(source="d:1", text="oops", level="CRITICAL"),))  # fmt: skip
    cites = sig.raw_failure_lines(acts, srv, src, dst)
    texts = [c.text for c in cites]
    assert texts == [
        "Something odd",
        "Weird failure",
        "KeyError: 'x'",
        "2026-11-25 19:02:11.532 3521 ERROR nova.compute.manager boom",
        "oops",
    ]
    assert sig.raw_failure_lines(None, None, None, None) == ()


@given(st.text(max_size=400), st.integers(min_value=0, max_value=300))
def test_safe_truncate_cuts_bytes_without_splitting_a_character(
    text: str, length: int
) -> None:
    """As Nova's: at most ``length`` UTF-8 bytes, a prefix, and as long as it can be."""
    cut = sig.safe_truncate(text, length)
    assert len(cut.encode()) <= length
    assert text.startswith(cut)
    if cut != text:
        assert len((cut + text[len(cut)]).encode()) > length


def test_safe_truncate_drops_a_cut_multibyte_character() -> None:
    """A 2-byte character across the limit is dropped whole (254 bytes, not 255)."""
    assert sig.safe_truncate("é" * 200) == "é" * 127
    assert sig.safe_truncate("x" + "é" * 200) == "x" + "é" * 127
