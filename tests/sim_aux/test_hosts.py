"""The simulated hypervisors are real SSH servers that paramiko talks to unchanged."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import paramiko
import pytest

from sim.hosts.fleet import HostFleet
from sim.region.state import RegionState
from tests.sim_aux import region_state

pytestmark = pytest.mark.integration


@pytest.fixture
async def fleet(
    tmp_path: Path,
) -> AsyncIterator[tuple[RegionState, HostFleet, dict[str, tuple[int, str]]]]:
    state = region_state()
    hosts = HostFleet(state, tmp_path / "keys")
    endpoints = await hosts.start()
    yield state, hosts, endpoints
    await hosts.stop()


def _known_hosts(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _ssh(port: int, key: Path, known_hosts: Path, command: str) -> tuple[int, str, str]:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            "127.0.0.1",
            port=port,
            username="pf9",
            key_filename=str(key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        _, stdout, stderr = client.exec_command(command, timeout=10)
        code = stdout.channel.recv_exit_status()
        return code, stdout.read().decode(), stderr.read().decode()
    finally:
        client.close()


async def test_paramiko_with_known_hosts_runs_a_command(fleet, tmp_path: Path) -> None:
    """RejectPolicy plus the written known_hosts line connects and runs a probe."""
    state, hosts, endpoints = fleet
    port, key_line = endpoints["cmp-1"]
    known = _known_hosts(tmp_path / "known_hosts", [f"[127.0.0.1]:{port} {key_line}"])
    result = await asyncio.to_thread(
        _ssh,
        port,
        hosts.client_key_path,
        known,
        "systemctl is-active -- pf9-ostackhost",
    )
    assert result == (0, "active\n", "")
    assert state.ssh_commands == [("cmp-1", "systemctl is-active -- pf9-ostackhost")]


async def test_unreachable_host_has_no_listener(fleet) -> None:
    """A host the scenario marks unreachable is not started."""
    _, _, endpoints = fleet
    assert "cmp-4" not in endpoints
    assert len({port for port, _ in endpoints.values()}) == len(endpoints)


async def test_wrong_host_key_is_refused(fleet, tmp_path: Path) -> None:
    """Another host's key under this port makes paramiko raise BadHostKeyException."""
    state, hosts, endpoints = fleet
    port, _ = endpoints["cmp-1"]
    _, other_key = endpoints["cmp-2"]
    known = _known_hosts(tmp_path / "known_hosts", [f"[127.0.0.1]:{port} {other_key}"])
    with pytest.raises(paramiko.BadHostKeyException):
        await asyncio.to_thread(_ssh, port, hosts.client_key_path, known, "true")
    assert state.ssh_commands == []


async def test_unknown_key_is_not_authorized(fleet, tmp_path: Path) -> None:
    """A client key the hosts never authorized fails public-key auth."""
    _, _, endpoints = fleet
    port, key_line = endpoints["cmp-1"]
    known = _known_hosts(tmp_path / "known_hosts", [f"[127.0.0.1]:{port} {key_line}"])
    stranger = tmp_path / "stranger"
    stranger.write_bytes(
        asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh")
    )
    with pytest.raises(paramiko.AuthenticationException):
        await asyncio.to_thread(_ssh, port, stranger, known, "true")


async def test_unknown_command_exits_127_and_everything_is_recorded(
    fleet, tmp_path: Path
) -> None:
    """An unknown command gets bash's 127; hostile quoted data is recorded verbatim."""
    state, hosts, endpoints = fleet
    port, key_line = endpoints["cmp-1"]
    known = _known_hosts(tmp_path / "known_hosts", [f"[127.0.0.1]:{port} {key_line}"])
    hostile = shlex.join(
        [
            "grep",
            "-a",
            "-s",
            "-F",
            "-e",
            "req-1;$(reboot)",
            "--",
            "/var/log/pf9/ostackhost.log",
        ]
    )
    unknown = await asyncio.to_thread(
        _ssh, port, hosts.client_key_path, known, "reboot now"
    )
    data = await asyncio.to_thread(_ssh, port, hosts.client_key_path, known, hostile)
    assert unknown == (127, "", "bash: reboot: command not found\n")
    assert data == (1, "", "")
    assert state.ssh_commands == [("cmp-1", "reboot now"), ("cmp-1", hostile)]
