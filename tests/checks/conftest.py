"""Builders of evidence values for check tests: concise defaults, override what matters.

The default world: VM ``web-1`` on ``cmp-a-01`` live migrating to ``cmp-b-01``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics.evidence.log_lines import parse_log_line
from diagnostics.evidence.types import (
    ActionEvent,
    AgentInfo,
    AggregateInfo,
    Aggregates,
    AvailabilityZones,
    CertificateInfo,
    ColdMigrationSshProbe,
    ComputeServices,
    DestCpu,
    DestHostLogs,
    DestHostServices,
    DestLeftovers,
    DestStorage,
    FlavorInfo,
    InstanceAction,
    InstanceActions,
    Inventory,
    LibvirtTlsProbe,
    LogLine,
    LogLines,
    ManagementPlane,
    MigrationRecord,
    MigrationRecords,
    NetworkAgents,
    Placement,
    PortBinding,
    PortInfo,
    Ports,
    ProviderView,
    Server,
    ServiceInfo,
    SourceCpu,
    SourceHostLogs,
    SourceHostServices,
    VolumeAttachmentInfo,
    VolumeInfo,
    Volumes,
    VolumeServices,
)
from diagnostics.model import CheckOutcome, Concluded
from diagnostics.plugins import bundled_check
from diagnostics.remedies import fill
from tests.checks import outcomes


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A check test asserts, while it runs, exactly the outcomes its markers declare."""
    declared = outcomes.marked(item)
    with outcomes.watching() as watch:
        result = yield
    if why := watch.mismatch(declared):
        pytest.fail(why, pytrace=False)
    return result


NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
SRC, DST = "cmp-a-01", "cmp-b-01"
VM_ID = "6f0c1a52-3d7e-4c1b-9a8e-2b1f5c7d9e01"
MIG_UUID = "0e8b7c44-91d2-4f5a-b3c6-7a8d9e0f1a2b"
PORT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
VOL_ID = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
REQ = "req-11111111-2222-4333-8444-555555555555"


def server(**kw: Any) -> Server:
    flavor = FlavorInfo(
        name="m1.medium", vcpus=2, ram_mb=4096, disk_gb=40,
        extra_specs=kw.pop("extra_specs", {}),
    )  # fmt: skip
    base: dict[str, Any] = {
        "provenance": f"GET /servers/{VM_ID}", "id": VM_ID, "name": "web-1", "status": "ACTIVE",
        "vm_state": "active", "task_state": None, "power_state": 1, "host": SRC,
        "hypervisor_hostname": f"{SRC}.example", "instance_name": "instance-0000002a",
        "availability_zone": "az1", "pinned_availability_zone": None, "host_status": "UP",
        "locked": False, "flavor": flavor, "image_id": "img-1",
    }  # fmt: skip
    return Server(**(base | kw))


def record(**kw: Any) -> MigrationRecord:
    base: dict[str, Any] = {
        "id": "42", "uuid": MIG_UUID, "kind": "live-migration", "status": "failed",
        "source_compute": SRC, "dest_compute": DST, "dest_host": "10.0.0.12",
        "created_at": NOW - timedelta(minutes=5), "updated_at": NOW - timedelta(minutes=4),
    }  # fmt: skip
    return MigrationRecord(**(base | kw))


def records(*recs: MigrationRecord, **kw: Any) -> MigrationRecords:
    return MigrationRecords(
        provenance="GET /os-migrations", records=recs or (record(),), **kw
    )


def no_records(**kw: Any) -> MigrationRecords:
    return MigrationRecords(provenance="GET /os-migrations", records=(), **kw)


def event(name: str, details: str | None = None, **kw: Any) -> ActionEvent:
    base: dict[str, Any] = {
        "event": name, "result": "Error", "start_time": NOW - timedelta(minutes=5),
        "finish_time": NOW - timedelta(minutes=4), "details": details,
    }  # fmt: skip
    return ActionEvent(**(base | kw))


def actions(*events: ActionEvent, action: str = "live-migration") -> InstanceActions:
    act = InstanceAction(
        action=action, request_id=REQ, start_time=NOW - timedelta(minutes=5),
        message="Error" if any(e.result == "Error" for e in events) else None,
        events=events,
    )  # fmt: skip
    return InstanceActions(
        provenance=f"GET /servers/{VM_ID}/os-instance-actions/{REQ}",
        actions=(act,),
        migration_action=act,
    )


def _lines(host: str, texts: tuple[str, ...]) -> tuple[LogLine, ...]:
    return tuple(
        # the same parser the collectors use, so levels and timestamps are real
        parse_log_line(f"{host}:/var/log/pf9/ostackhost.log:{n}", t)
        for n, t in enumerate(texts, 1)
    )


def src_logs(*texts: str) -> SourceHostLogs:
    return SourceHostLogs(provenance="grep", host=SRC, lines=_lines(SRC, texts))


def dest_logs(*texts: str) -> DestHostLogs:
    return DestHostLogs(provenance="grep", host=DST, lines=_lines(DST, texts))


def mgmt(*texts: str) -> ManagementPlane:
    lines = tuple(parse_log_line("nova-scheduler-0", t) for t in texts)
    return ManagementPlane(
        provenance="k8s", pods=(), logs=LogLines(provenance="k8s", lines=lines)
    )


def cert(path: str = "/etc/pki/libvirt/servercert.pem", **kw: Any) -> CertificateInfo:
    base: dict[str, Any] = {
        "path": path, "subject": f"CN = {DST}", "sans": (f"DNS:{DST}",),
        "not_before": NOW - timedelta(days=300), "not_after": NOW + timedelta(days=65),
    }  # fmt: skip
    return CertificateInfo(**(base | kw))


def tls_probe(**kw: Any) -> LibvirtTlsProbe:
    base: dict[str, Any] = {
        "provenance": f"{SRC}$ virsh -r -c qemu+tls://{DST}/system version", "source": SRC,
        "dest": DST, "connect_ok": True, "connect_output": "Running hypervisor: QEMU 8.2.0",
        "port_open": True, "dest_server_cert": cert(),
        "source_client_cert": cert("/etc/pki/libvirt/clientcert.pem", subject=f"CN = {SRC}"),
        "dest_clock": NOW, "source_clock": NOW,
    }  # fmt: skip
    return LibvirtTlsProbe(**(base | kw))


def ssh_probe(stderr: str = "") -> ColdMigrationSshProbe:
    return ColdMigrationSshProbe(
        provenance=f"{SRC}$ sudo -n -u pf9 ssh -o BatchMode=yes -- {DST} true",
        source=SRC, dest=DST, user="pf9", ok=not stderr, stderr=stderr,
    )  # fmt: skip


def svc(host: str, **kw: Any) -> ServiceInfo:
    base: dict[str, Any] = {
        "binary": "nova-compute",
        "host": host,
        "zone": "az1",
        "status": "enabled",
        "state": "up",
    }
    return ServiceInfo(**(base | kw))


def services(*svcs: ServiceInfo) -> ComputeServices:
    return ComputeServices(
        provenance="GET /os-services", services=svcs or (svc(SRC), svc(DST))
    )


def volume_services(state: str = "up") -> VolumeServices:
    return VolumeServices(
        provenance="GET /v3/os-services",
        services=(svc("cinder-lvm@lvm", binary="cinder-volume", state=state),),
    )


def units(cls: type[SourceHostServices] | type[DestHostServices], **states: str):
    host = SRC if cls is SourceHostServices else DST
    base = {"pf9-ostackhost": "active", "libvirtd": "active"}
    return cls(
        provenance=f"{host}$ systemctl is-active", host=host, units=base | states
    )


def rp_uuid(name: str) -> str:
    """The resource provider uuid of ``name`` in these tests (stable, a real UUID)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name))


def provider(name: str, **kw: Any) -> ProviderView:
    inventories = {
        "VCPU": Inventory(total=16, allocation_ratio=4.0),
        "MEMORY_MB": Inventory(total=65536, reserved=512),
        "DISK_GB": Inventory(total=500),
    }
    base: dict[str, Any] = {
        "uuid": rp_uuid(name), "name": name, "inventories": inventories,
        "usages": {"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 100},
        "traits": frozenset({"HW_CPU_X86_AVX2"}),
    }  # fmt: skip
    return ProviderView(**(base | kw))


def placement(*providers: ProviderView, **kw: Any) -> Placement:
    provs = providers or (provider(f"{SRC}.example"), provider(f"{DST}.example"))
    return Placement(
        provenance="GET /resource_providers", providers={p.name: p for p in provs}, **kw
    )


def cpus(src_flags: str = "fpu avx2 avx512f", dest_flags: str = "fpu avx2 avx512f"):
    def one(cls: type[SourceCpu] | type[DestCpu], host: str, flags: str) -> Any:
        return cls(provenance=f"{host}$ lscpu", host=host, model="Xeon", vendor="GenuineIntel",
                   flags=frozenset(flags.split()))  # fmt: skip

    return one(SourceCpu, SRC, src_flags), one(DestCpu, DST, dest_flags)


def zones(**zs: tuple[str, ...]) -> AvailabilityZones:
    return AvailabilityZones(
        provenance="GET /os-availability-zone/detail",
        zones=zs or {"az1": (SRC, "cmp-a-02"), "az2": (DST,)},
    )


def aggregates(*aggs: AggregateInfo) -> Aggregates:
    return Aggregates(provenance="GET /os-aggregates", aggregates=aggs)


def agg(name: str, hosts: tuple[str, ...], **kw: Any) -> AggregateInfo:
    return AggregateInfo(
        id=name, name=name, availability_zone=kw.pop("az", None), hosts=hosts, **kw
    )


def ports(vif_type: str = "ovs", inactive_on: str | None = None) -> Ports:
    bindings = (PortBinding(host=SRC, status="ACTIVE", vif_type=vif_type),)
    if inactive_on:
        bindings += (PortBinding(host=inactive_on, status="INACTIVE", vif_type="ovs"),)
    port = PortInfo(id=PORT_ID, status="ACTIVE", vif_type=vif_type, vnic_type="normal",
                    binding_host=SRC, bindings=bindings)  # fmt: skip
    return Ports(provenance=f"GET /v2.0/ports?device_id={VM_ID}", ports=(port,))


def agents(dest_alive: bool = True) -> NetworkAgents:
    return NetworkAgents(
        provenance="GET /v2.0/agents",
        agents=(
            AgentInfo(agent_type="OVN Controller agent", host=SRC, alive=True,
                      admin_state_up=True, binary="ovn-controller"),
            AgentInfo(agent_type="OVN Controller agent", host=DST, alive=dest_alive,
                      admin_state_up=True, binary="ovn-controller"),
        ),
    )  # fmt: skip


def volumes(attachment_status: str = "attached") -> Volumes:
    att = VolumeAttachmentInfo(attachment_id="att-1", server_id=VM_ID, host=SRC,
                               status=attachment_status)  # fmt: skip
    vol = VolumeInfo(id=VOL_ID, name="data", status="in-use", backend_host="cinder-lvm@lvm",
                     volume_type="lvm", bootable=False, attachments=(att,))  # fmt: skip
    return Volumes(provenance="GET /v3/volumes", volumes=(vol,))


def dest_storage(*sessions: str) -> DestStorage:
    return DestStorage(provenance=f"{DST}$ iscsiadm -m session", host=DST,
                       iscsi_sessions=sessions, multipath="")  # fmt: skip


def leftovers(domain: bool = False, instance_dir: bool = False) -> DestLeftovers:
    return DestLeftovers(
        provenance=f"{DST}$ virsh -r list --all --name", host=DST, domain_defined=domain,
        instance_dir_exists=instance_dir, instance_dir=f"/opt/data/instances/{VM_ID}",
    )  # fmt: skip


def rendered(check_id: str, outcome: CheckOutcome) -> str:
    """Assert the outcome is Concluded and its templates render; return all the text.

    The text is the summary, then one line per remediation step that applies, as the
    text report shows them: ``<kind> <where>: <why>`` and then its command.
    """
    outcomes.assert_concludes(outcome)
    spec = bundled_check(check_id)
    lines = [spec.summary.format(**outcome.facts)]
    steps = fill(spec.remediation, outcome.facts)
    assert steps, f"{check_id}: no remediation step applies to {dict(outcome.facts)}"
    for s in steps:
        lines.append(f"{s.kind.value} {s.on.label}: {s.why}")
        lines += [s.command] if s.command is not None else []
    text = "\n".join(lines)
    assert "{" not in text, text
    return text


def commands(check_id: str, outcome: CheckOutcome) -> list[str]:
    """The commands of the remediation steps that apply to a Concluded outcome."""
    assert isinstance(outcome, Concluded), outcome
    steps = fill(bundled_check(check_id).remediation, outcome.facts)
    return [s.command for s in steps if s.command is not None]
