"""ssh.config_file: the operator's OpenSSH config addresses hypervisors, the bot's own map wins.

Against real SSH servers on 127.0.0.1: the simulated region's hypervisors (sim.hosts.fleet)
and, for ProxyJump, the test fleet's bastion that forwards direct-tcpip channels.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.ssh import HostShell
from diagnostics.evidence.ssh_target import TargetResolver
from diagnostics.settings import HostAddress, SshSettings
from sim.hosts.fleet import HostFleet
from sim.region.build import build_state
from sim.scenario.load import load_scenario
from tests.evidence_host.fakes import FakeFleet, FakeHost, known_hosts_line

pytestmark = pytest.mark.integration
CLOSED = 9  # discard: nothing listens on loopback


@dataclass
class Sim:
    fleet: HostFleet
    ports: dict[str, int]
    key: Path
    known_hosts: Path
    tmp: Path

    def ssh_config(self, text: str) -> Path:
        path = self.tmp / "ssh_config"
        path.write_text(text)
        return path

    def alias(self, host: str, *, port: int | None = None, user: str = "pf9") -> str:
        return (
            f"Host {host}\n"
            f"    HostName 127.0.0.1\n"
            f"    Port {port or self.ports[host]}\n"
            f"    User {user}\n"
            f"    IdentityFile {self.key}\n"
            f"    IdentitiesOnly yes\n"
        )

    def settings(self, config: Path, **extra: object) -> SshSettings:
        values: dict[str, object] = {
            "config_file": config,
            "known_hosts": self.known_hosts,
            "use_hypervisor_host_ip": False,
            "connect_timeout_s": 3.0,
            "command_timeout_s": 10.0,
            **extra,
        }
        return SshSettings.model_validate(values)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    state = build_state(load_scenario("libvirt-tls-expired-cert"))
    fleet = HostFleet(state, tmp_path / "keys")
    started = await fleet.start()
    known = tmp_path / "known_hosts"
    known.write_text(
        "".join(known_hosts_line(port, key) for port, key in started.values())
    )
    yield Sim(
        fleet,
        {h: p for h, (p, _) in started.items()},
        fleet.client_key_path,
        known,
        tmp_path,
    )
    await fleet.stop()


async def _login(shell: HostShell, host: str) -> str:
    """Run a command on ``host``; the user name the server authenticated."""
    result = await shell.run(host, ["lscpu"])
    assert result.exit_code == 0, result.stderr
    transport = shell._clients[host].get_transport()
    assert transport is not None
    return str(transport.get_username())


async def test_an_alias_in_ssh_config_reaches_the_host(sim: Sim) -> None:
    """No host map, no key: HostName, Port, User and IdentityFile all come from ssh_config."""
    host = "cmp-a-01"
    shell = HostShell(sim.settings(sim.ssh_config(sim.alias(host))))
    try:
        assert shell.needs_host_ip(host) is False  # ssh_config names its address
        assert await _login(shell, host) == "pf9"
        assert (
            sim.fleet.state.ssh_commands[-1][0] == host
        )  # that host's own server answered
    finally:
        shell.close()


async def test_the_bots_host_map_wins_over_ssh_config(sim: Sim) -> None:
    """ssh.hosts says where the host is, even when ssh_config says otherwise."""
    host = "cmp-a-01"
    config = sim.ssh_config(sim.alias(host, port=CLOSED))
    mapped = {host: HostAddress(address="127.0.0.1", port=sim.ports[host])}
    shell = HostShell(sim.settings(config, hosts=mapped))
    try:
        assert await _login(shell, host) == "pf9"  # ssh_config's User still applies
    finally:
        shell.close()
    # and the other way round: the map's closed port is used, not ssh_config's right one
    config = sim.ssh_config(sim.alias(host))
    wrong = {host: HostAddress(address="127.0.0.1", port=CLOSED)}
    shell = HostShell(sim.settings(config, hosts=wrong))
    try:
        with pytest.raises(CollectorError, match=f"127.0.0.1:{CLOSED}"):
            await shell.run(host, ["lscpu"])
    finally:
        shell.close()


async def test_a_chosen_user_wins_and_the_default_does_not_mask_ssh_config(
    sim: Sim,
) -> None:
    """ssh.user set to a user of its own wins; set to the default (as in the example), it yields."""
    host = "cmp-a-01"
    config = sim.ssh_config(sim.alias(host))
    shell = HostShell(sim.settings(config, user="auditor"))
    try:
        assert await _login(shell, host) == "auditor"
    finally:
        shell.close()
    shell = HostShell(sim.settings(config, user="pf9-diag"))
    try:
        assert await _login(shell, host) == "pf9"
    finally:
        shell.close()


async def test_proxyjump_goes_through_the_bastion(tmp_path: Path) -> None:
    """ProxyJump names a bastion whose own Host block (HostName, Port, User) is applied."""
    fake = FakeFleet(
        tmp_path,
        {
            "bastion": FakeHost(),
            "cmp-b-01": FakeHost(answers={"lscpu": (0, "x86_64\n", "")}),
        },
        jump_hosts=("bastion",),
    )
    started = await fake.start()
    known = tmp_path / "known_hosts"
    known.write_text("".join(known_hosts_line(p, k) for p, k in started.values()))
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host cmp-b-01\n    HostName 127.0.0.1\n    Port {started['cmp-b-01'][0]}\n"
        "    ProxyJump jumper@bastion-east\n"
        f"Host bastion-east\n    HostName 127.0.0.1\n    Port {started['bastion'][0]}\n"
        f"Host *\n    IdentityFile {fake.client_key_path}\n    IdentitiesOnly yes\n"
    )
    settings = SshSettings(
        config_file=config, known_hosts=known, use_hypervisor_host_ip=False
    )
    shell = HostShell(settings)
    try:
        result = await shell.run("cmp-b-01", ["lscpu"])
        assert (result.exit_code, result.stdout) == (0, "x86_64\n")
        assert [h for h, _ in fake.commands] == ["cmp-b-01"]  # not run on the bastion
        ((jump, client),) = shell._jumps.items()
        assert (jump.address, jump.port, jump.user) == (
            "127.0.0.1",
            started["bastion"][0],
            "jumper",
        )
        transport = client.get_transport()
        assert transport is not None
        assert transport.get_username() == "jumper"
    finally:
        shell.close()
        fake.close()


# ---- resolution rules without a server -----------------------------------------------------


def _resolver(tmp_path: Path, text: str, **settings: object) -> TargetResolver:
    path = tmp_path / "config"
    path.write_text(text)
    return TargetResolver(SshSettings.model_validate({"config_file": path, **settings}))


def test_identity_files_and_identities_only(tmp_path: Path) -> None:
    """Every IdentityFile is tried; IdentitiesOnly turns the agent off; ssh.key_file overrides."""
    text = "Host cmp-*\n    IdentityFile ~/.ssh/a\n    IdentityFile /keys/b\n    IdentitiesOnly yes\n"
    endpoint = _resolver(tmp_path, text).resolve("cmp-a-01").endpoint
    assert endpoint.key_files == (Path("~/.ssh/a").expanduser(), Path("/keys/b"))
    assert endpoint.use_agent is False
    chosen = (
        _resolver(tmp_path, text, key_file="/etc/md/id").resolve("cmp-a-01").endpoint
    )
    assert chosen.key_files == (Path("/etc/md/id"),)


def test_pattern_and_host_ip_order(tmp_path: Path) -> None:
    """host_pattern beats ssh_config; ssh_config's HostName beats the hypervisor host_ip."""
    text = "Host cmp-a-01\n    HostName 10.1.1.1\n    Port 2222\n"
    patterned = _resolver(tmp_path, text, host_pattern="{host}.mgmt").resolve(
        "cmp-a-01"
    )
    assert (patterned.endpoint.address, patterned.endpoint.port) == (
        "cmp-a-01.mgmt",
        22,
    )
    target = _resolver(tmp_path, text).resolve("cmp-a-01", host_ip="10.9.9.9")
    assert (target.endpoint.address, target.endpoint.port) == ("10.1.1.1", 2222)
    other = _resolver(tmp_path, text).resolve("cmp-b-01", host_ip="10.9.9.9")
    assert other.endpoint.address == "10.9.9.9"
    assert other.from_config is False


def test_missing_or_disabled_config_changes_nothing(tmp_path: Path) -> None:
    """The default path may not exist; then (and with null) the old rules apply unchanged."""
    for config in (tmp_path / "absent", None):
        target = TargetResolver(SshSettings(config_file=config)).resolve(
            "cmp-a-01", "10.2.2.2"
        )
        assert (target.endpoint.address, target.endpoint.user, target.jump) == (
            "10.2.2.2",
            "pf9-diag",
            None,
        )


def test_several_proxyjump_hops_are_refused_by_name(tmp_path: Path) -> None:
    """A chain is not silently cut to one hop: the reason names the host and the setting."""
    resolver = _resolver(tmp_path, "Host cmp-a-01\n    ProxyJump a,b\n")
    with pytest.raises(
        CollectorError, match=r"ProxyJump 'a,b' for cmp-a-01 has several hops"
    ):
        resolver.resolve("cmp-a-01")


def test_explicit_jump_host_wins_over_proxyjump(tmp_path: Path) -> None:
    """ssh.jump_host is the bot's own choice and beats ProxyJump."""
    resolver = _resolver(
        tmp_path,
        "Host *\n    ProxyJump far-away\n",
        jump_host={"host": "127.0.0.2", "port": 2022},
    )
    jump = resolver.resolve("cmp-a-01").jump
    assert jump is not None
    assert (jump.address, jump.port) == ("127.0.0.2", 2022)


async def test_an_unreadable_ssh_config_is_the_hosts_reason(tmp_path: Path) -> None:
    """A broken file makes that host Unavailable with the file and paramiko's complaint."""
    config = tmp_path / "config"
    config.write_text("Host cmp-a-01\n    HostName\n")
    shell = HostShell(SshSettings(config_file=config, use_hypervisor_host_ip=False))
    try:
        assert shell.needs_host_ip("cmp-a-01") is False  # host_ip is off: never asks
        with pytest.raises(CollectorError) as caught:
            await shell.run("cmp-a-01", ["lscpu"])
        assert caught.value.reason == f"cannot read ssh.config_file {config}"
        assert "Unparsable line HostName" in str(caught.value.detail)
    finally:
        shell.close()
