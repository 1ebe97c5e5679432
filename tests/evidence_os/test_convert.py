"""SDK resources built from responses recorded from a real Nova 34 → our evidence types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openstack.block_storage.v3 import attachment as sdk_attachment
from openstack.block_storage.v3 import volume as sdk_volume
from openstack.compute.v2 import aggregate as sdk_aggregate
from openstack.compute.v2 import availability_zone as sdk_az
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import migration as sdk_migration
from openstack.compute.v2 import server as sdk_server
from openstack.compute.v2 import server_action as sdk_action
from openstack.compute.v2 import service as sdk_service
from openstack.network.v2 import agent as sdk_agent
from openstack.network.v2 import port as sdk_port

from diagnostics.evidence import openstack_convert as convert
from tests import reference

LIVE, SAMPLES = reference.NOVA_LIVE, reference.NOVA_API_SAMPLES
# The SDK warns about the 2.87 capacity fields and its own internals; neither is ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore::openstack.warnings.OpenStackDeprecationWarning"
)

WEB01 = "40cc5afd-955b-45ec-84f6-f94ae04151d1"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_parse_time_treats_naive_as_utc() -> None:
    """Nova's naive timestamps are UTC; 'Z' and offsets are normalised to UTC."""
    assert convert.parse_time("2026-11-25T18:10:12.508240") == datetime(
        2026, 11, 25, 18, 10, 12, 508240, tzinfo=UTC
    )
    assert convert.parse_time("2026-11-25T18:10:02Z") == datetime(
        2026, 11, 25, 18, 10, 2, tzinfo=UTC
    )
    assert convert.parse_time("2026-11-25T20:10:02+02:00") == datetime(
        2026, 11, 25, 18, 10, 2, tzinfo=UTC
    )
    assert convert.parse_time("not a time") is None
    assert convert.parse_time(None) is None


def test_server_admin_view_at_2_104() -> None:
    """The admin server view gives host, instance name, AZs, flavor specs and image properties."""
    body = load(LIVE / "servers/web-01/server.v2.104.json")["server"]
    server = convert.server_from_sdk(
        sdk_server.Server.existing(**body), provenance="GET /servers/x"
    )
    assert server.id == WEB01
    assert server.name == "web-01"
    assert server.host == "cmp-a-01"
    assert server.hypervisor_hostname == "cmp-a-01"
    assert server.instance_name == "instance-00000003"
    assert server.availability_zone == "az-1"
    assert server.pinned_availability_zone == "az-1"
    assert server.host_status == "UP"
    assert server.vm_state == "active"
    assert server.power_state == 1
    assert server.flavor.name == "g1.medium"
    assert (server.flavor.vcpus, server.flavor.ram_mb, server.flavor.disk_gb) == (
        4,
        8192,
        40,
    )
    assert server.flavor.extra_specs["hw:watchdog_action"] == "reset"
    assert server.image_id == "155d900f-4e14-4e4c-a73d-069cbf4541e6"
    assert server.image_properties == {"architecture": "x86_64"}
    assert server.fault is None
    assert server.updated == datetime(2026, 11, 25, 18, 10, 12, tzinfo=UTC)


def test_server_in_error_carries_its_fault() -> None:
    """An ERROR server (ha-02, failed evacuation) has the fault with code, message and time."""
    body = load(LIVE / "servers/ha-02/server.v2.104.json")["server"]
    server = convert.server_from_sdk(sdk_server.Server.existing(**body), provenance="p")
    assert server.status == "ERROR"
    assert server.host_status == "DOWN"
    assert server.fault is not None
    assert server.fault.code == 500
    assert server.fault.message.startswith("No valid host was found")
    assert "NoValidHost" in server.fault.details
    assert server.fault.created == datetime(2026, 11, 25, 18, 10, 21, tzinfo=UTC)


def test_server_non_admin_view_hides_host() -> None:
    """A member's view has no host, hypervisor or instance name: they convert to None."""
    body = load(LIVE / "servers/api-01/server.nonadmin.v2.104.json")["server"]
    server = convert.server_from_sdk(sdk_server.Server.existing(**body), provenance="p")
    assert server.name == "api-01"
    assert server.host is None
    assert server.hypervisor_hostname is None
    assert server.instance_name is None


def test_migration_record_keeps_numeric_id_and_uuid() -> None:
    """A 2.104 os-migrations row keeps Nova's numeric id beside the uuid, times in UTC."""
    row = load(LIVE / "servers/web-01/os-migrations.v2.104.json")["migrations"][0]
    record = convert.migration_record_from_sdk(sdk_migration.Migration.existing(**row))
    assert record.id == "3"
    assert record.uuid == "45e76902-6c32-4669-9fdb-deecc11ba2aa"
    assert record.kind == "live-migration"
    assert record.status == "error"
    assert (record.source_compute, record.dest_compute) == ("cmp-a-01", "cmp-a-03")
    assert record.dest_host is None
    assert record.created_at == datetime(2026, 11, 25, 18, 10, 12, 508240, tzinfo=UTC)


def test_migration_record_before_2_59_has_no_uuid() -> None:
    """At 2.1 the record has no uuid and the numeric id still comes through."""
    row = load(LIVE / "servers/web-01/os-migrations.v2.1.json")["migrations"][0]
    record = convert.migration_record_from_sdk(sdk_migration.Migration.existing(**row))
    assert record.uuid is None
    assert record.id == "3"


def test_newest_first_orders_by_creation() -> None:
    """Migration records sort newest first across the whole region listing."""
    rows = load(LIVE / "global/os-migrations.v2.104.json")["migrations"]
    records = convert.newest_first(
        convert.migration_record_from_sdk(sdk_migration.Migration.existing(**r))
        for r in rows
    )
    times = [r.created_at for r in records]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]


def test_instance_action_with_events_at_2_84() -> None:
    """The live-migration action of web-01 has failed events with details, host and traceback."""
    path = LIVE / (
        "servers/web-01/os-instance-actions/"
        "live-migration.req-a6cb938a-ff3b-4938-afe3-2d31cdc6a424.v2.104.json"
    )
    body = load(path)["instanceAction"]
    action = convert.instance_action_from_sdk(sdk_action.ServerAction.existing(**body))
    assert action.action == "live-migration"
    assert action.request_id == "req-a6cb938a-ff3b-4938-afe3-2d31cdc6a424"
    assert action.message == "Error"
    assert len(action.failed_events) == 2
    dest_check = action.events[0]
    assert dest_check.event == "compute_check_can_live_migrate_destination"
    assert dest_check.host == "cmp-a-03"
    assert dest_check.details is not None
    assert dest_check.details.startswith("Unacceptable CPU info")
    assert dest_check.traceback is not None
    assert "InvalidCPUInfo" in dest_check.traceback
    assert dest_check.start_time == datetime(
        2026, 11, 25, 18, 10, 12, 593047, tzinfo=UTC
    )


def test_instance_action_non_admin_has_no_traceback_or_host() -> None:
    """A member sees the events but neither traceback nor host."""
    path = LIVE / (
        "servers/web-01/os-instance-actions/"
        "live-migration.req-a6cb938a-ff3b-4938-afe3-2d31cdc6a424.nonadmin.v2.104.json"
    )
    body = load(path)["instanceAction"]
    action = convert.instance_action_from_sdk(sdk_action.ServerAction.existing(**body))
    assert action.events
    assert all(e.traceback is None and e.host is None for e in action.events)


def test_compute_services_states() -> None:
    """Disabled with a reason, down, and forced down services convert faithfully."""
    rows = load(LIVE / "global/os-services.v2.104.json")["services"]
    services = {
        s.host: s
        for s in (
            convert.service_from_sdk(sdk_service.Service.existing(**r)) for r in rows
        )
        if s.binary == "nova-compute"
    }
    assert services["cmp-b-02"].status == "disabled"
    assert services["cmp-b-02"].disabled_reason
    assert services["cmp-b-03"].state == "down"
    assert services["cmp-c-01"].forced_down is True
    assert services["cmp-a-01"].zone == "az-1"


@pytest.mark.parametrize(("version", "has_cpu_info"), [("2.87", True), ("2.88", False)])
def test_hypervisor_cpu_info_only_up_to_2_87(version: str, has_cpu_info: bool) -> None:
    """cpu_info is present at 2.87 and gone at 2.88; service host and host_ip at both."""
    rows = load(LIVE / f"global/os-hypervisors-detail.v{version}.json")["hypervisors"]
    hypervisor = convert.hypervisor_from_sdk(
        sdk_hypervisor.Hypervisor.existing(**rows[0])
    )
    assert hypervisor.hostname == "cmp-a-01"
    assert hypervisor.service_host == "cmp-a-01"
    assert hypervisor.host_ip == "10.20.1.11"
    assert bool(hypervisor.cpu_info) is has_cpu_info
    if has_cpu_info:
        assert hypervisor.cpu_info["model"] == "Cascadelake-Server"


def test_aggregates_and_zones() -> None:
    """Aggregates keep hosts, AZ and metadata; the AZ detail maps zones to hosts."""
    rows = load(LIVE / "global/os-aggregates.v2.104.json")["aggregates"]
    aggregates = [
        convert.aggregate_from_sdk(sdk_aggregate.Aggregate.existing(**r)) for r in rows
    ]
    az1 = next(a for a in aggregates if a.name == "agg-az-1")
    assert az1.availability_zone == "az-1"
    assert az1.hosts == ("cmp-a-01", "cmp-a-02", "cmp-a-03")
    assert az1.metadata == {"availability_zone": "az-1"}
    zones_body = load(LIVE / "global/os-availability-zone-detail.v2.104.json")[
        "availabilityZoneInfo"
    ]
    zones = convert.zones_from_sdk(
        sdk_az.AvailabilityZone.existing(**z) for z in zones_body
    )
    assert "cmp-a-01" in zones["az-1"]


def test_availability_zone_api_sample() -> None:
    """Nova's documented AZ detail sample converts (internal zone included)."""
    body = load(SAMPLES / "os-availability-zone/availability-zone-detail-resp.json")
    zones = convert.zones_from_sdk(
        sdk_az.AvailabilityZone.existing(**z) for z in body["availabilityZoneInfo"]
    )
    assert zones
    assert all(isinstance(h, str) for hosts in zones.values() for h in hosts)


def test_placement_provider_and_allocations() -> None:
    """cmp-a-01's inventories, usages and traits give free capacity; allocations nest."""
    base = LIVE / "placement/cmp-a-01"
    view = convert.provider_from_json(
        {"uuid": "d07c07c0-e008-462f-a5e1-e98723022990", "name": "cmp-a-01"},
        inventories=load(base / "inventories.json"),
        usages=load(base / "usages.json"),
        traits=load(base / "traits.json"),
        aggregates=load(base / "aggregates.json"),
    )
    assert view.inventories["VCPU"].allocation_ratio == 4.0
    assert view.free("VCPU") == 64 * 4 - 40
    assert view.free("MEMORY_MB") == 262144 - 512 - 81920
    assert "COMPUTE_NODE" in view.traits
    assert len(view.aggregates) == 2
    held = convert.allocations_from_json(
        load(LIVE / "placement/allocations/server-web-01.json")
    )
    assert held == {
        "d07c07c0-e008-462f-a5e1-e98723022990": {
            "DISK_GB": 40,
            "MEMORY_MB": 8192,
            "VCPU": 4,
        }
    }
    assert (
        convert.allocations_from_json(
            load(LIVE / "placement/allocations/migration-web-01-3.json")
        )
        == {}
    )


def test_port_with_bindings() -> None:
    """A Neutron port (binding:* fields) and its binding-extended entries convert."""
    body: dict[str, Any] = {
        "id": "p1",
        "status": "DOWN",
        "network_id": "n1",
        "binding:vif_type": "binding_failed",
        "binding:vnic_type": "normal",
        "binding:host_id": "cmp-a-02",
        "binding:profile": {"migrating_to": "cmp-a-02"},
    }
    port = sdk_port.Port.existing(**body)
    bindings = [
        convert.binding_from_json(
            {"host": "cmp-a-01", "status": "ACTIVE", "vif_type": "ovs"}
        ),
        convert.binding_from_json(
            {"host": "cmp-a-02", "status": "INACTIVE", "vif_type": "binding_failed"}
        ),
    ]
    info = convert.port_from_sdk(port, bindings)
    assert info.vif_type == "binding_failed"
    assert info.binding_host == "cmp-a-02"
    assert info.profile == {"migrating_to": "cmp-a-02"}
    assert [b.status for b in info.bindings] == ["ACTIVE", "INACTIVE"]


def test_agent() -> None:
    """A Neutron agent keeps its type, host, liveness and admin state."""
    agent = sdk_agent.Agent.existing(
        agent_type="OVN Controller agent",
        host="cmp-a-03",
        alive=False,
        admin_state_up=True,
    )
    info = convert.agent_from_sdk(agent)
    assert (info.agent_type, info.host, info.alive, info.admin_state_up) == (
        "OVN Controller agent",
        "cmp-a-03",
        False,
        True,
    )


def test_volume_attachment_status_from_attachments_api() -> None:
    """The 3.27+ attachment status wins; the host comes from the volume's attachment list."""
    body: dict[str, Any] = {
        "id": "v1",
        "name": "data",
        "status": "in-use",
        "bootable": "false",
        "volume_type": "lvm",
        "attachments": [
            {"attachment_id": "a1", "server_id": WEB01, "host_name": "cmp-a-01"}
        ],
        "os-vol-host-attr:host": "cinder@lvm#LVM",
    }
    volume = sdk_volume.Volume.existing(**body)
    attachment = sdk_attachment.Attachment.existing(
        id="a1", instance=WEB01, status="attaching"
    )
    info = convert.volume_from_sdk(volume, [attachment])
    assert info.backend_host == "cinder@lvm#LVM"
    assert info.bootable is False
    assert info.attachments[0].status == "attaching"
    assert info.attachments[0].host == "cmp-a-01"
    legacy = convert.volume_from_sdk(volume)
    assert legacy.attachments[0].status == "attached"
