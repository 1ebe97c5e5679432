"""diagnostics.signatures: catalog regexes on real strings, unwrap, log parsers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnostics import signatures as sig
from diagnostics.evidence.log_lines import parse_log_line
from diagnostics.evidence.types import Fault, LogLine
from tests.checks.conftest import (
    DST,
    SRC,
    VM_ID,
    actions,
    dest_logs,
    event,
    server,
    src_logs,
)

PORT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
# (catalog name, exact string as real systems print it: failure-signatures.md)
REAL = [
    ("remote-uri", f"operation failed: Failed to connect to remote libvirt URI qemu+tls://{DST}/system: Cannot recv data: Connection reset by peer"),
    ("socket-connect", f"unable to connect to server at '{DST}:16514': Connection refused"),
    ("peer-cert", "authentication failed: Failed to verify peer's certificate"),
    ("cert-validation", "Certificate failed validation: The certificate hasn't got a known issuer."),
    ("cert-owner", f"Certificate [session] owner does not match the hostname {DST}"),
    ("cert-times", "The server certificate /etc/pki/libvirt/servercert.pem has expired"),
    ("cert-read", "Cannot read CA certificate '/etc/pki/CA/cacert.pem': No such file or directory"),
    ("qemu-tls", "job 'migration out' failed: Cannot read from TLS channel: The TLS connection was non-properly terminated."),
    ("not-completed", "Live migration not completed after 3200 sec"),
    ("cancelled", "Migration operation was cancelled"),
    ("aborted-by-client", "operation aborted: migration out job: canceled by client"),
    ("agg-extra-specs", f"{DST} fails flavor extra_specs requirements. Extra_spec ssd is not in aggregate."),
    ("az-requested", f"Availability Zone 'az1' requested. ({DST}, {DST}) ram: 1MB has AZs: az2"),
    ("cinder-az", f"Instance {VM_ID} and volume x are not in the same availability_zone. Instance is in az1. Volume is in az2"),
    ("no-valid-host", "No valid host was found. There are not enough hosts available."),
    ("no-valid-host-cold", "No valid host found for cold migrate"),
    ("max-retries", f"Exceeded maximum number of retries. Exceeded max scheduling retries 3 for instance {VM_ID} during live migration"),
    ("unacceptable-cpu", "Unacceptable CPU info: CPU doesn't have compatibility.\n\n0\n\nRefer to http://libvirt.org/html/libvirt-libvirt-host.html#virCPUCompareResult"),
    ("missing-features", "operation failed: guest CPU doesn't match specification: missing features: avx512f,avx512vl"),
    ("lack-of-memory", f"Unable to migrate {VM_ID} to {DST}: Lack of memory(host:2048 <= instance:4096)"),
    ("disk-too-large", f"Unable to migrate {VM_ID}: Disk of instance is too large(available on destination host:10 < need:40)"),
    ("insufficient-compute", "Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology."),
    ("placement-refused", "Unable to create allocation for 'MEMORY_MB' on resource provider '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d'. The requested amount would exceed the capacity."),
    ("not-shared", f"{SRC} is not on shared storage: Shared storage live-migration requires either shared storage or boot-from-volume with no local disks."),
    ("not-local", f"{SRC} is not on local storage: Block migration can not be used with shared storage."),
    ("mapped-volumes", f"Cannot block migrate instance {VM_ID} with mapped volumes. Selective block device migration is not supported with tunnelled block migrations."),
    ("device-not-found", "Volume device not found at ."),
    ("portal-not-found", "Unable to find target portal 10.0.0.50:3260."),
    ("iscsiadm-error", "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)"),
    ("attachment-failed", f"Update attachment failed for attachment {VM_ID}. Error: Unable to update the attachment. Code: 500"),
    ("binding-failed", f"Binding failed for port {PORT}, please check neutron logs for more information."),
    ("binding-failed", f"Binding failed for port {PORT} and host {DST}."),
    ("dead-agent", f"Refusing to bind port {PORT} to dead agent: agent-x"),
    ("no-ovn-chassis", f"Refusing to bind port {PORT} due to no OVN chassis for host: {DST}"),
    ("vif-timeout", "Timed out waiting for events: [('network-vif-plugged', 'x')]. If these timeouts"),
    ("service-unavailable", f"Compute service of {DST} is unavailable at this time."),
    ("service-in-use", f"Compute service of {SRC} is still in use."),
    ("same-host", f"Unable to migrate instance ({VM_ID}) to current host ({SRC})."),
    ("invalid-state", f"Cannot 'os-migrateLive' instance {VM_ID} while it is in vm_state stopped"),
    ("power-state", f"Instance {VM_ID} in power_state shutdown. Cannot live migrate while the instance is in this state."),
    ("ssh-failed", f"not able to execute ssh command: Unexpected error while running command.\nCommand: ssh -o BatchMode=yes {DST} mkdir -p /x\nExit code: 255\nStdout: ''\nStderr: 'Host key verification failed.\\r\\n'"),
    ("unsupported:vTPM", f"Operation 'live-migration' not supported for vTPM-enabled instance ({VM_ID})."),
    ("binding-exists", f"Binding for port {PORT} on host {DST} already exists."),
    ("disk-exists", f"The supplied disk path (/opt/data/instances/{VM_ID}) already exists, it is expected not to exist."),
    ("domain-active", "Requested operation is not valid: domain 'instance-0000002a' is already active"),
]  # fmt: skip
WRAPPERS = [
    "{}",
    "Migration pre-check error: {}",
    f"Migration pre-check error: Error while check_can_live_migrate_source from {SRC} to host {DST}: InvalidSharedStorage_Remote {{}}",
    "Migration error: {}",
    "Live Migration failure: {}: libvirt.libvirtError: x",
]  # fmt: skip


@pytest.mark.parametrize(
    "wrapper",
    WRAPPERS,
    ids=["bare", "precheck", "remote", "migration-error", "libvirt"],
)
@pytest.mark.parametrize(
    ("name", "text"), REAL, ids=[f"{n}-{i}" for i, (n, _) in enumerate(REAL)]
)
def test_catalog_matches_real_strings_bare_and_wrapped(
    name: str, text: str, wrapper: str
) -> None:
    """Every real string is recognised under its name, whatever wraps it."""
    hits = {h.name for h in sig.classify_text(wrapper.format(text))}
    assert name in hits


def test_unwrap_strips_nested_wrappers() -> None:
    """unwrap() removes every Nova wrapper and keeps the inner message."""
    inner = f"{SRC} is not on shared storage: Shared storage live-migration requires"
    assert sig.unwrap(WRAPPERS[2].format(inner)) == inner
    assert sig.unwrap("Migration error: Live Migration failure: x") == "x"
    assert sig.unwrap("plain text") == "plain text"


def test_classify_text_finds_nothing_in_healthy_lines() -> None:
    """An ordinary INFO line matches no failure signature."""
    assert (
        sig.classify_text("Took 1.23 seconds to spawn the instance on the hypervisor.")
        == []
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


@given(st.text(max_size=300))
def test_classify_and_unwrap_never_raise(text: str) -> None:
    """The catalog and unwrap accept any text."""
    sig.classify_text(text)
    assert isinstance(sig.unwrap(text), str)


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
