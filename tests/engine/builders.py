"""Small evidence builders for engine and renderer tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from diagnostics.evidence import types as ev

T0 = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
SERVER_ID = "1e0c9d8e-58a5-4b0e-9d36-7c8f3f0a2b11"


def server(status: str = "ACTIVE") -> ev.Server:
    return ev.Server(
        provenance="GET /servers/" + SERVER_ID + " [req-1]",
        id=SERVER_ID,
        name="web-01",
        status=status,
        vm_state="active",
        task_state=None,
        power_state=1,
        host="cmp-a-01",
        hypervisor_hostname="cmp-a-01",
        instance_name="instance-0000000a",
        availability_zone="az1",
        pinned_availability_zone=None,
        host_status="UP",
        locked=False,
        flavor=ev.FlavorInfo(name="m1.large", vcpus=4, ram_mb=8192, disk_gb=80),
        image_id="img",
    )


def records(status: str = "failed") -> ev.MigrationRecords:
    return ev.MigrationRecords(
        provenance="GET /os-migrations?instance_uuid=" + SERVER_ID + " [req-2]",
        records=(
            ev.MigrationRecord(
                id="7",
                uuid="9b1f2a6c-1111-4c4c-8888-0123456789ab",
                kind="live-migration",
                status=status,
                source_compute="cmp-a-01",
                dest_compute="cmp-b-01",
                dest_host="10.0.0.12",
                created_at=T0,
                updated_at=T0 + timedelta(seconds=40),
            ),
        ),
    )


def actions() -> ev.InstanceActions:
    action = ev.InstanceAction(
        action="live-migration",
        request_id="req-5b7c7a4e-2d0a-4a57-9d0e-4c2f1b3a9e10",
        start_time=T0,
        message="Error",
        events=(
            ev.ActionEvent(
                event="compute_check_can_live_migrate_destination",
                result="Error",
                start_time=T0,
                finish_time=T0 + timedelta(seconds=2),
                details="Migration pre-check error: Unacceptable CPU info: CPU doesn't have compatibility.",
            ),
        ),
    )
    return ev.InstanceActions(
        provenance="GET /servers/" + SERVER_ID + "/os-instance-actions [req-3]",
        actions=(action,),
        migration_action=action,
    )


def cpu(kind: type[ev.CpuInfo]) -> ev.CpuInfo:
    host = "cmp-a-01" if kind is ev.SourceCpu else "cmp-b-01"
    return kind(
        provenance=f"{host}$ lscpu",
        host=host,
        model="Intel(R) Xeon(R) Gold 6338",
        vendor="GenuineIntel",
        flags=frozenset({"avx2"}),
    )
