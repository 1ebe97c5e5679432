"""build_state: ids, bindings, allocations, logs and history from a scenario."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sim.region.build import build_state
from sim.region.identity import provider_uuid
from sim.region.state import server_by_name, stable_uuid
from sim.scenario.load import load_scenario

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"
NOW = datetime(2026, 11, 25, 19, 0, 0, tzinfo=UTC)


def test_server_ids_are_stable_and_instance_names_sequential() -> None:
    """Server ids derive from scenario + name; instance names follow instance-%08x."""
    state = build_state(load_scenario(SCENARIO), NOW)
    web = server_by_name(state, "web-01")
    assert web["id"] == stable_uuid("test-live-web01", "server", "web-01")
    assert web["instance_name"] == "instance-00000001"


def test_history_creates_migration_action_and_logs_in_time_order() -> None:
    """History outcomes become migration rows (ids by time), actions and host log lines."""
    state = build_state(load_scenario(SCENARIO), NOW)
    web = server_by_name(state, "web-01")
    assert [m.migration_type for m in state.migrations] == [
        "live-migration", "live-migration", "evacuation"]  # fmt: skip
    failed = next(m for m in state.migrations if m.instance_uuid == web["id"])
    assert (failed.id, failed.status, failed.dest_compute, failed.source_node) == (
        2, "error", "cmp-a-03", None)  # fmt: skip
    action = next(
        a
        for a in state.actions
        if a.action == "live-migration" and a.instance_uuid == web["id"]
    )
    assert {e.event for e in action.events} == {
        "conductor_live_migrate_instance", "compute_check_can_live_migrate_destination"}  # fmt: skip
    line = state.host_logs["cmp-a-03"]["/var/log/pf9/ostackhost.log"][0].text
    assert line.startswith("2026-11-25 18:50:00.000 ")
    assert f"[{action.request_id} " in line
    assert f"[instance: {web['id']}] " in line
    assert state.pod_logs["nova-conductor"][0].text.endswith(
        "Failed to execute live migration: InvalidCPUInfo"
    )


def test_libvirtd_lines_use_libvirt_format() -> None:
    """Static libvirtd.log lines are written in libvirt's own format."""
    state = build_state(load_scenario(SCENARIO), NOW)
    line = state.host_logs["cmp-c-02"]["/var/log/libvirt/libvirtd.log"][0].text
    assert line.startswith("2026-11-25 18:10:00.000+0000: ")
    assert (
        ": error : virNetTLSContextCheckCertificate:1093 : Certificate check failed"
        in line
    )


def test_successful_history_moves_server_allocation_and_binding() -> None:
    """A completed live migration leaves the server, its allocation and binding on dest."""
    scenario = load_scenario(SCENARIO)
    state = build_state(scenario, NOW)
    ok = server_by_name(state, "ok-lm-01")
    assert ok["host"] == "cmp-a-02"
    assert list(state.allocations[ok["id"]]) == [provider_uuid(scenario, "cmp-a-02")]
    assert list(state.port_bindings[ok["port_ids"][0]]) == ["cmp-a-02"]


def test_failed_evacuation_sets_error_and_fault() -> None:
    """The evacuation outcome puts the server in ERROR with Nova's fault message."""
    state = build_state(load_scenario(SCENARIO), NOW)
    ha = server_by_name(state, "ha-02")
    assert (ha["status"], ha["vm_state"]) == ("ERROR", "error")
    assert ha["fault"]["message"] == "No valid host was found. "


def test_notifications_use_oslo_v2_envelope_with_scenario_values() -> None:
    """Notifications are oslo.messaging v2 envelopes built from Nova's samples."""
    import json

    state = build_state(load_scenario(SCENARIO), NOW)
    web = server_by_name(state, "web-01")
    priority, event_type, envelope = next(
        n for n in state.notifications if n[1].startswith("compute_task")
    )
    assert (priority, envelope["oslo.version"]) == ("ERROR", "2.0")
    message = json.loads(envelope["oslo.message"])
    data = message["payload"]["nova_object.data"]
    assert event_type == message["event_type"] == "compute_task.migrate_server.error"
    assert data["instance_uuid"] == web["id"]
    assert data["reason"]["nova_object.data"]["exception"] == "InvalidCPUInfo"
