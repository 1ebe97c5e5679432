"""Volume-backed VMs: the storage node's cinder-volume log, through the CLI over real
HTTP (the sim's Cinder) and SSH (the sim's storage node)."""

from __future__ import annotations

from pathlib import Path

from diagnostics import cli_diagnose
from sim.testing import start_region
from tests.e2e.test_scenarios import diagnose_json

NODE_LOG = "storage-01:/var/log/pf9/cindervolume-base.log:"


def _step(report: dict, number: int) -> dict:  # type: ignore[type-arg]
    return next(s for s in report["steps"] if s["number"] == number)


async def test_storage_node_log_line_confirms_the_backend_error(tmp_path: Path) -> None:
    """The cinder-volume error on storage-01 is cited with its host, file and line."""
    async with start_region("volume-backend-error-on-storage-node", tmp_path) as region:
        code, report, _ = await diagnose_json(region.paths, "db-02")  # type: ignore[attr-defined]
        commands = list(region.state.ssh_commands)
    assert code == cli_diagnose.EXIT_ROOT_CAUSE
    cause = report["root_cause"]
    assert (cause["id"], cause["confidence"]) == ("storage_volume", "confirmed")
    assert "cinder-volume on storage-01 failed for this request" in cause["summary"]
    cited = [e for e in cause["evidence"] if e["source"].startswith(NODE_LOG)]
    assert cited, cause["evidence"]
    assert (
        "Failed to add initiator iqn iqn.1994-05.com.redhat:7e1c2b9a4d3f"
        in cited[0]["text"]
    )
    assert any("RtstoolError: Could not find target" in e["text"] for e in cited)
    assert (
        "storage node storage-01 (storage-01@lvm): cinder-volume up"
        in _step(report, 7)["summary"]
    )
    step8 = _step(report, 8)
    assert "storage-01 (cinder-volume): " in step8["summary"]
    assert step8["status"] == "failed"  # it holds the lines that prove the cause
    # one lookup of the storage nodes serves steps 7 and 8 (the volume and the services)
    storage_calls = sorted(
        r["what"]
        for r in report["timing"]["requests"]
        if r["stage"] in ("StorageNodes", "StorageNodeLogs")
        and r["family"] != "ssh"  # the API calls; the node's own commands are below
    )
    assert storage_calls == [
        "GET /os-services?binary=cinder-volume",
        "GET /volumes/4b0e6f1c-7a2d-4e59-9c3b-5d8a1f2e6c47",
    ]
    # read-only and quoted, like every probe: the grep and the unit state, nothing else
    on_node = [c for host, c in commands if host == "storage-01"]
    assert on_node, commands
    assert all(
        c.startswith(("grep -a -H -n -F ", "systemctl is-active -- ")) for c in on_node
    )


async def test_unreachable_storage_node_is_could_not_check_and_nothing_confirmed(
    tmp_path: Path,
) -> None:
    """No SSH to the storage node: step 8 says why and what it needs; no cause confirmed."""
    async with start_region(
        "volume-backend-storage-node-unreachable", tmp_path
    ) as region:
        code, report, _ = await diagnose_json(region.paths, "db-02")  # type: ignore[attr-defined]
    assert code == cli_diagnose.EXIT_ROOT_CAUSE
    cause = report["root_cause"]
    assert (cause["id"], cause["confidence"]) == ("storage_volume", "likely")
    assert "the cinder-volume log on storage-01 was not read" in cause["summary"]
    findings = [cause, *report["other_findings"]]
    assert all(f["confidence"] != "confirmed" for f in findings), findings
    step8 = _step(report, 8)
    assert step8["status"] == "error"
    assert (
        "could not check: the cinder-volume log on storage-01: SSH connection refused"
        in step8["summary"]
    )
    assert "needs SSH as pf9 to the storage node storage-01" in step8["summary"]
    step7 = _step(report, 7)
    assert step7["status"] == "error"
    assert "could not check: the cinder-volume units on storage-01" in step7["summary"]
    # the rival the check could not rule out names why: the node's log was not read
    assert any(
        c.startswith("could not rule out: a backend error in the cinder-volume log on")
        and "SSH connection refused" in c
        for c in cause["caveats"]
    ), cause["caveats"]
    assert not any(e["source"].startswith(NODE_LOG) for e in cause["evidence"])


async def test_down_cinder_volume_is_the_deeper_cause_of_the_failed_update(
    tmp_path: Path,
) -> None:
    """cinder-volume dead on the storage node: it, not the 500, is the cause; restart first."""
    async with start_region("volume-cinder-volume-down", tmp_path) as region:
        code, report, _ = await diagnose_json(region.paths, "db-02")  # type: ignore[attr-defined]
    assert code == cli_diagnose.EXIT_ROOT_CAUSE
    cause = report["root_cause"]
    assert (cause["id"], cause["confidence"]) == ("storage_volume", "confirmed")
    assert "cinder-volume for storage-01@lvm is down" in cause["summary"]
    assert "so Cinder failed the attachment" in cause["summary"]
    assert cause["evidence"][0]["text"].startswith(
        "cinder-volume storage-01@lvm: state down"
    )
    first = cause["remediation"][0]
    assert first["on"] == "storage-01"
    assert first["command"].startswith("journalctl -u pf9-cindervolume-base")
    fixes = [r for r in cause["remediation"] if r["kind"] == "fix"]
    assert fixes[0]["command"] == "systemctl restart pf9-cindervolume-base"
    step7 = _step(report, 7)
    assert "pf9-cindervolume-base not active" in step7["summary"]
