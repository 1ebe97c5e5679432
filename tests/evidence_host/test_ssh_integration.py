"""HostShell and the SSH collectors against real SSH servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pytest

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.host_collectors import (
    dest_cpu,
    dest_disk,
    dest_leftovers,
    dest_storage,
    libvirt_tls_probe,
    source_cpu,
    source_host_services,
)
from diagnostics.evidence.host_logs import dest_host_logs, source_host_logs
from diagnostics.evidence.ssh import HostShell
from diagnostics.evidence.types import (
    DestHostLogs,
    SourceCpu,
    SourceHostLogs,
    Unavailable,
)
from diagnostics.settings import HostAddress, JumpHost, SshSettings
from tests.evidence_host.fakes import (
    FakeFleet,
    FakeHost,
    clients,
    known_hosts_line,
    make_ctx,
    silent_server,
)

pytestmark = pytest.mark.integration

LSCPU = (
    "Architecture:                    x86_64\n"
    "Vendor ID:                       GenuineIntel\n"
    "Model name:                      Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n"
    "Flags:                           fpu vme avx512f\n"
)
REQ = "req-11111111-2222-3333-4444-555555555555"
VM = "5d7a0a3e-4b7c-4a43-9a55-0c1a2b3c4d5e"
T0 = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)


def oslo(at: datetime, text: str, req: str = REQ) -> str:
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"{stamp} 3521 ERROR nova.compute.manager [{req} u p - - default default] {text}"


def _hosts() -> dict[str, FakeHost]:
    base = {"lscpu": (0, LSCPU, ""), "date": (0, "2026-11-25T19:20:00Z\n", "")}
    return {
        "cmp-a-01": FakeHost(answers=dict(base)),
        "cmp-b-01": FakeHost(
            answers={
                **base,
                "df": (
                    0,
                    "Filesystem 1-blocks Used Available Capacity Mounted on\n"
                    "/dev/sda1 1000 400 600 40% /opt/data\n",
                    "",
                ),
                "iscsiadm": (21, "", "iscsiadm: No active sessions.\n"),
                "multipath": (0, "", ""),
            },
            dirs={f"/opt/data/instances/{VM}"},
            domains=["instance-00000001"],
        ),
    }


@pytest.fixture
async def fleet(
    tmp_path: Path,
) -> AsyncIterator[tuple[FakeFleet, dict[str, tuple[int, str]]]]:
    fake = FakeFleet(tmp_path, _hosts())
    started = await fake.start()
    yield fake, started
    fake.close()


def _settings(
    tmp_path: Path, fake: FakeFleet, ports: dict[str, int], known: str, **extra: object
) -> SshSettings:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known)
    values: dict[str, object] = {
        "key_file": fake.client_key_path,
        "known_hosts": known_hosts,
        "hosts": {
            h: HostAddress(address="127.0.0.1", port=p) for h, p in ports.items()
        },
        "connect_timeout_s": 2.0,
        "command_timeout_s": 5.0,
        **extra,
    }
    return SshSettings.model_validate(values)


def _trusted(started: dict[str, tuple[int, str]]) -> str:
    return "".join(known_hosts_line(port, key) for port, key in started.values())


async def test_known_host_connects_and_reuses_one_connection(tmp_path, fleet):
    """A host listed in known_hosts ([addr]:port form) connects; later commands reuse it."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started)))
    try:
        ctx = make_ctx(clients(shell))
        cpu, services, disk = await asyncio.gather(
            source_cpu(ctx), source_host_services(ctx), dest_disk(ctx)
        )
        assert isinstance(cpu, SourceCpu)
        assert cpu.model.startswith("Intel(R) Xeon(R) Gold 6338")
        assert "avx512f" in cpu.flags
        assert cpu.provenance == "cmp-a-01$ lscpu"
        assert isinstance(services, Unavailable)  # systemctl not answered by this fake
        assert not isinstance(disk, Unavailable)
        assert disk.available_bytes == 600
        assert len(shell._clients) == 2
    finally:
        shell.close()


async def test_unknown_host_key_is_refused_by_default(tmp_path, fleet):
    """With an empty known_hosts the connection is refused with a clear reason."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    shell = HostShell(_settings(tmp_path, fake, ports, ""))
    try:
        result = await source_cpu(make_ctx(clients(shell)))
        assert isinstance(result, Unavailable)
        assert result.reason.startswith(
            "host key of cmp-a-01 not in known_hosts (refusing"
        )
        assert fake.commands == []
    finally:
        shell.close()


async def test_unknown_host_key_is_accepted_only_on_opt_in(tmp_path, fleet):
    """ssh.accept_unknown_hosts trusts on first use without writing known_hosts."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    settings = _settings(tmp_path, fake, ports, "", accept_unknown_hosts=True)
    shell = HostShell(settings)
    try:
        result = await source_cpu(make_ctx(clients(shell)))
        assert isinstance(result, SourceCpu)
        assert settings.known_hosts.read_text() == ""
    finally:
        shell.close()


async def test_changed_host_key_is_refused(tmp_path, fleet):
    """A known_hosts entry with another key for the same [addr]:port is refused."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    wrong = "".join(
        known_hosts_line(p, " ".join(other.split()[:2])) for p in ports.values()
    )
    shell = HostShell(
        _settings(tmp_path, fake, ports, wrong, accept_unknown_hosts=True)
    )
    try:
        result = await source_cpu(make_ctx(clients(shell)))
        assert isinstance(result, Unavailable)
        assert result.reason.startswith("host key of cmp-a-01 CHANGED")
        assert fake.commands == []
    finally:
        shell.close()


async def test_wrong_client_key_is_an_auth_failure(tmp_path, fleet):
    """A key the server does not authorize gives 'SSH auth failed for user@host'."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    settings = _settings(tmp_path, fake, ports, _trusted(started), key_file=stranger)
    shell = HostShell(settings)
    try:
        result = await source_cpu(make_ctx(clients(shell)))
        assert isinstance(result, Unavailable)
        assert result.reason == "SSH auth failed for pf9-diag@cmp-a-01"
    finally:
        shell.close()


async def test_timeout_and_refusal_are_unavailable_while_other_hosts_work(
    tmp_path, fleet
):
    """A hung sshd times out and a closed port is refused; the source still answers."""
    fake, started = fleet
    hung, hung_port = await silent_server()
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    ports = {
        "cmp-a-01": started["cmp-a-01"][0],
        "cmp-b-01": hung_port,
        "cmp-c-01": closed_port,
    }
    settings = _settings(
        tmp_path, fake, ports, _trusted(started), connect_timeout_s=0.5
    )
    shell = HostShell(settings)
    try:
        ctx = make_ctx(clients(shell))
        cpu, dest, refused = await asyncio.gather(
            source_cpu(ctx),
            dest_cpu(ctx),
            dest_cpu(make_ctx(clients(shell), dest="cmp-c-01")),
        )
        assert isinstance(cpu, SourceCpu)
        assert isinstance(dest, Unavailable)
        assert (
            dest.reason == f"SSH timeout to cmp-b-01 (127.0.0.1:{hung_port}) after 0.5s"
        )
        assert isinstance(refused, Unavailable)
        assert (
            refused.reason
            == f"SSH connection refused by cmp-c-01 (127.0.0.1:{closed_port})"
        )
        # the failure is remembered: a second collector fails fast with the same reason
        again = await dest_disk(ctx)
        assert isinstance(again, Unavailable)
        assert again.reason == dest.reason
    finally:
        shell.close()
        hung.close()


HOSTILE = [
    "req-x; rm -rf / #",
    "$(touch /tmp/pwned)",
    "`reboot`",
    'it\'s "quoted"',
    "--help",
    "-e",
    "a|b&&c>d",
]


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_request_id_and_vm_name_reach_the_shell_as_one_argument(
    tmp_path, fleet, hostile
):
    """Request id, VM uuid and instance name arrive quoted: shlex.split yields them whole."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started), sudo=True))
    try:
        ctx = make_ctx(
            clients(shell),
            request_id=hostile,
            server_id=f"uuid {hostile}",
            instance_name=f"inst\n{hostile}",
        )
        logs, leftovers = await asyncio.gather(dest_host_logs(ctx), dest_leftovers(ctx))
        assert isinstance(logs, DestHostLogs)
        assert not isinstance(leftovers, Unavailable)
        recorded = [shlex.split(c) for h, c in fake.commands if h == "cmp-b-01"]
        args = [a for argv in recorded for a in argv]
        assert hostile in args
        assert f"uuid {hostile}" in args
        qemu_log = f"/var/log/libvirt/qemu/inst\n{hostile}.log"
        # a name with "/" is never made into a path (see the test below)
        assert (qemu_log in args) is ("/" not in hostile)
        assert f"/opt/data/instances/uuid {hostile}" in args
        assert all(argv[:2] == ["sudo", "-n"] for argv in recorded)
    finally:
        shell.close()


async def test_log_search_keeps_the_window_and_reports_caps(tmp_path):
    """Lines outside the window are dropped, lines are redacted, and a hit cap is reported."""
    log = "/var/log/pf9/ostackhost.log"
    lines = [
        oslo(T0 - timedelta(hours=3), "old attempt Live Migration failure: stale"),
        oslo(
            T0, "Live Migration failure: transport_url=rabbit://nova:hunter2@mq:5672/"
        ),
        oslo(T0 + timedelta(seconds=5), "unrelated line", req="req-other"),
        oslo(T0 + timedelta(seconds=9), f"[instance: {VM}] rollback"),
    ]
    host = FakeHost(files={log: lines})
    fake = FakeFleet(tmp_path, {"cmp-a-01": host})
    started = await fake.start()
    ports = {h: p for h, (p, _) in started.items()}
    window = (T0 - timedelta(minutes=10), T0 + timedelta(minutes=10))
    try:
        shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started)))
        found = await source_host_logs(make_ctx(clients(shell), window=window))
        assert isinstance(found, SourceHostLogs)
        texts = [ln.text for ln in found.lines]
        assert len(texts) == 2
        assert "hunter2" not in "".join(texts)
        assert found.lines[0].source == f"cmp-a-01:{log}:2"
        assert found.lines[0].request_id == REQ
        assert not found.truncated
        shell.close()

        capped = HostShell(
            _settings(tmp_path, fake, ports, _trusted(started), log_match_cap=1)
        )
        first = await source_host_logs(make_ctx(clients(capped), window=None))
        assert isinstance(first, SourceHostLogs)
        assert first.truncated
        assert len(first.lines) == 1
        capped.close()
    finally:
        fake.close()


async def test_log_search_byte_cap_drops_the_partial_line(tmp_path):
    """When head -c cuts the output, the cut line is dropped and truncated is set."""
    log = "/var/log/pf9/ostackhost.log"
    host = FakeHost(files={log: [oslo(T0, f"{i:04d} " + "x" * 200) for i in range(20)]})
    fake = FakeFleet(tmp_path, {"cmp-a-01": host})
    started = await fake.start()
    ports = {h: p for h, (p, _) in started.items()}
    try:
        shell = HostShell(
            _settings(tmp_path, fake, ports, _trusted(started), log_byte_cap=1024)
        )
        found = await source_host_logs(make_ctx(clients(shell)))
        assert isinstance(found, SourceHostLogs)
        assert found.truncated
        assert 0 < len(found.lines) < 20
        assert all(ln.text.endswith("x" * 200) for ln in found.lines)
        shell.close()
    finally:
        fake.close()


async def test_tls_probe_and_storage_collectors_parse_real_outputs(tmp_path):
    """TLS probe runs virsh/nc on the source and openssl/date on both sides."""
    cert = (
        "subject=CN = cmp-b-01\nissuer=CN = pf9-region-ca\n"
        "notBefore=Nov 25 19:20:00 2024 GMT\nnotAfter=Nov 24 19:20:00 2025 GMT\n"
        "X509v3 Subject Alternative Name: \n    DNS:cmp-b-01, IP Address:10.0.0.12\n"
    )
    virsh_err = (
        "error: failed to connect to the hypervisor\n"
        "error: authentication failed: Failed to verify peer's certificate\n"
    )
    date = (0, "2026-11-25T19:20:00Z\n", "")
    source = FakeHost(
        answers={
            "virsh": (1, "", virsh_err),
            "nc": (0, "", ""),
            "openssl": (
                1,
                "",
                "Could not open file or uri for loading certificate from x\n",
            ),
            "date": date,
        }
    )
    dest = FakeHost(
        answers={
            "openssl": (0, cert, ""),
            "date": date,
            "iscsiadm": (
                0,
                "tcp: [1] 10.0.0.50:3260,1 iqn.2010-10.org.openstack:volume-1 (non-flash)\n",
                "",
            ),
            "multipath": (0, "mpatha (36001405) dm-0 LIO-ORG,disk\n", ""),
        }
    )
    fake = FakeFleet(tmp_path, {"cmp-a-01": source, "cmp-b-01": dest})
    started = await fake.start()
    ports = {h: p for h, (p, _) in started.items()}
    shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started)))
    try:
        ctx = make_ctx(clients(shell))
        probe, storage = await asyncio.gather(libvirt_tls_probe(ctx), dest_storage(ctx))
        assert not isinstance(probe, Unavailable)
        assert not probe.connect_ok
        assert (
            probe.connect_output
            == "authentication failed: Failed to verify peer's certificate"
        )
        assert probe.port_open is True
        assert probe.source_client_cert is None
        assert probe.dest_server_cert is not None
        assert probe.dest_server_cert.not_after == datetime(
            2025, 11, 24, 19, 20, tzinfo=UTC
        )
        assert probe.dest_server_cert.sans == ("DNS:cmp-b-01", "IP Address:10.0.0.12")
        assert probe.dest_clock == datetime(2026, 11, 25, 19, 20, tzinfo=UTC)
        sent = [c for h, c in fake.commands if h == "cmp-a-01"]
        assert "timeout 15 virsh -r -c qemu+tls://cmp-b-01/system version" in sent
        assert not isinstance(storage, Unavailable)
        assert storage.iscsi_sessions[0].startswith("tcp: [1] 10.0.0.50:3260,1")
        assert storage.multipath.startswith("mpatha")
    finally:
        shell.close()
        fake.close()


async def test_disabled_ssh_and_missing_hosts_are_unavailable():
    """No shell, or no destination host: Unavailable with the reason, nothing attempted."""
    none = await source_cpu(make_ctx(clients(None)))
    assert isinstance(none, Unavailable)
    assert "SSH to hypervisors is disabled" in none.reason
    shell = HostShell(SshSettings(enabled=False))
    disabled = await source_cpu(make_ctx(clients(shell)))
    assert isinstance(disabled, Unavailable)
    no_dest = await dest_cpu(make_ctx(clients(HostShell(SshSettings())), dest=None))
    assert isinstance(no_dest, Unavailable)
    assert no_dest.reason == "no destination host known for this migration"


async def test_command_timeout_becomes_unavailable(tmp_path, fleet):
    """A command that never ends is cut at command_timeout_s with a clear reason."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    shell = HostShell(
        _settings(tmp_path, fake, ports, _trusted(started), command_timeout_s=0.3)
    )
    try:
        with pytest.raises(
            CollectorError, match=r"^command timed out on cmp-a-01 after 0.3s$"
        ):
            await shell.run("cmp-a-01", ["hang"])
        # the connection stays usable for the next command
        result = await shell.run("cmp-a-01", ["lscpu"])
        assert result.exit_code == 0
        assert "Model name" in result.stdout
    finally:
        shell.close()


async def test_jump_host_carries_the_connection(tmp_path):
    """With ssh.jump_host, the hypervisor is reached through a direct-tcpip channel."""
    fake = FakeFleet(tmp_path, _hosts(), jump_hosts=("cmp-a-01",))
    started = await fake.start()
    bastion_port = started["cmp-a-01"][0]
    ports = {"cmp-b-01": started["cmp-b-01"][0]}
    settings = _settings(
        tmp_path,
        fake,
        ports,
        _trusted(started),
        jump_host=JumpHost(host="127.0.0.1", port=bastion_port),
    )
    shell = HostShell(settings)
    try:
        disk = await dest_disk(make_ctx(clients(shell)))
        assert not isinstance(disk, Unavailable)
        assert [h for h, _ in fake.commands] == ["cmp-b-01"]
        assert len(shell._jumps) == 1
    finally:
        shell.close()
        fake.close()


# one bcrypt round keeps the test fast; bcrypt warns that it is weak, which is the point
@pytest.mark.filterwarnings("ignore:.*bcrypt.kdf.. called with only 1 round")
async def test_encrypted_key_uses_the_passphrase_from_the_environment(
    tmp_path, fleet, monkeypatch
):
    """An encrypted key works with ssh.key_passphrase_env and is reported without it."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    locked = tmp_path / "id_locked"
    fake.client_key.write_private_key(str(locked), passphrase="open sesame", rounds=1)
    extra = {"key_file": locked, "key_passphrase_env": "DIAG_KEY_PASSPHRASE"}
    monkeypatch.delenv("DIAG_KEY_PASSPHRASE", raising=False)
    shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started), **extra))
    try:
        refused = await source_cpu(make_ctx(clients(shell)))
        assert isinstance(refused, Unavailable)
        assert (
            refused.reason
            == f"SSH key {locked} is encrypted (set ssh.key_passphrase_env)"
        )
    finally:
        shell.close()
    monkeypatch.setenv("DIAG_KEY_PASSPHRASE", "open sesame")
    shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started), **extra))
    try:
        assert isinstance(await source_cpu(make_ctx(clients(shell))), SourceCpu)
    finally:
        shell.close()


async def test_instance_name_with_a_slash_never_names_a_file_to_grep(tmp_path, fleet):
    """A domain name like ../../etc/shadow is not turned into a qemu log path."""
    fake, started = fleet
    ports = {h: p for h, (p, _) in started.items()}
    shell = HostShell(_settings(tmp_path, fake, ports, _trusted(started)))
    try:
        ctx = make_ctx(clients(shell), instance_name="../../../etc/shadow")
        assert isinstance(await source_host_logs(ctx), SourceHostLogs)
        words = [w for _, line in fake.commands for w in shlex.split(line)]
        assert "/var/log/pf9/ostackhost.log" in words
        assert not any("shadow" in w for w in words)
    finally:
        shell.close()
