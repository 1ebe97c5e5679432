"""The `migrate-diag` command line, as an operator runs it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from sim.demo.demo import run_demo
from sim.testing import start_region
from tests.e2e.test_scenarios import SCHEMA, diagnose_json

BIN = Path(sys.executable).parent


async def test_unknown_vm_exits_2_with_one_line_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown VM is a usage error with a one-line reason on stderr."""
    async with start_region("healthy", tmp_path) as region:
        code, _, _ = await diagnose_json(region.paths, "no-such-vm")  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert code == 2
    assert "no-such-vm" in err
    assert len(err.strip().splitlines()) == 1


async def test_ambiguous_name_lists_candidates_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two servers with one name: the candidates are listed with id, status and host."""
    scenario = tmp_path / "twins.yaml"
    scenario.write_text(
        "name: twins\ndescription: two servers share a name\nmode: saas\n"
        "hosts: {cmp-a-01: {}, cmp-a-02: {}}\n"
        "flavors: [{name: m1.small}]\n"
        "servers:\n"
        "  - {name: app, id: 11111111-1111-4111-8111-111111111111, flavor: m1.small, host: cmp-a-01}\n"
        "  - {name: app, id: 22222222-2222-4222-8222-222222222222, flavor: m1.small, host: cmp-a-02}\n"
    )
    async with start_region(scenario, tmp_path) as region:
        code, _, _ = await diagnose_json(region.paths, "app")  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert code == 2
    assert "11111111-1111-4111-8111-111111111111" in err
    assert "22222222-2222-4222-8222-222222222222" in err
    assert "cmp-a-02" in err


def test_unreachable_cloud_names_the_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cloud that cannot be reached exits 3 and says which endpoint and why."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  dead:\n    auth:\n      auth_url: http://127.0.0.1:9/identity/v3\n"
        "      username: u\n      password: p\n      project_name: p\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        f"openstack: {{cloud: dead, clouds_file: {clouds}}}\nssh: {{enabled: false}}\n"
    )
    code = main(["diagnose", "web-01", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 3
    assert "127.0.0.1:9" in err


def test_bad_config_names_key_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in the config is refused before anything runs, naming the key and file."""
    config = tmp_path / "typo.yaml"
    config.write_text("engine:\n  colector_timeout_s: 3\n")
    code = main(["diagnose", "web-01", "--config", str(config)])
    assert code == 2
    assert "typo.yaml: engine.colector_timeout_s" in capsys.readouterr().err


async def test_demo_prints_diagnosis_and_writes_thread_preview(tmp_path: Path) -> None:
    """The demo ends in the scenario's root cause and writes the Slack thread preview."""
    out = io.StringIO()
    html = tmp_path / "demo-thread.html"
    assert await run_demo("libvirt-tls-expired-cert", html, out) == 0
    text = out.getvalue()
    assert "ROOT CAUSE: libvirt_tls" in text
    assert "7. Services and probes on the hypervisors" in text
    page = html.read_text()
    assert "libvirt_tls" in page
    assert "Re-run" in page
    assert "Escalate" in page


def test_sim_up_then_diagnose_json_in_separate_processes(tmp_path: Path) -> None:
    """`sim up` in one process, `diagnose --cloud sim --format json` in another."""
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    sim = subprocess.Popen(
        [BIN / "migrate-diag", "sim", "up", "--scenario", "port-binding-failed",
         "--state-dir", state],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        for line in sim.stdout:  # wait until it says it is ready
            if b"migrate-diag.yaml" in line:
                break
        else:
            pytest.fail("sim up ended before it was ready")
        result = subprocess.run(
            [BIN / "migrate-diag", "diagnose", "api-01", "--cloud", "sim",
             "--config", state / "migrate-diag.yaml", "--format", "json"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=20)
    assert result.returncode == 4, result.stderr  # EXIT_ROOT_CAUSE: a cause was found
    report = json.loads(result.stdout)
    import jsonschema

    jsonschema.validate(report, SCHEMA)
    assert report["root_cause"]["id"] == "port_binding"
    assert sim.returncode == 0


def test_sim_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """`sim list` shows each scenario with its mode and expected root cause."""
    assert main(["sim", "list"]) == 0
    out = capsys.readouterr().out
    assert "libvirt-tls-expired-cert" in out
    assert "healthy" in out


def test_asyncio_is_not_left_running() -> None:
    """main() closes its event loop (a second call works)."""
    assert main(["sim", "list"]) == 0
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_console_script_flushes_everything_before_its_fast_exit() -> None:
    """The script leaves with os._exit (no interpreter teardown): all output still arrives
    through a pipe (block-buffered), and the exit status is main's."""
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import entry; entry()", "sim", "list"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert "healthy" in names
    assert "libvirt-tls-expired-cert" in names
    bad = subprocess.run(
        [sys.executable, "-c", "from bot.cli import entry; entry()", "diagnose", "x",
         "--config", "/nonexistent/migrate-diag.yaml"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "/nonexistent/migrate-diag.yaml" in bad.stderr
