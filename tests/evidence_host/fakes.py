"""A small asyncssh fleet answering the commands of docs/host-commands.md, for tests.

Stands in for ``sim.hosts.fleet.HostFleet`` where a test needs precise control of one answer
(a silent server, a changed key, a tiny byte cap). It never runs a shell: it parses each
command with ``shlex.split`` exactly as bash would split it and answers from memory.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncssh

from diagnostics.evidence.base import CollectContext
from diagnostics.evidence.types import FlavorInfo, Server
from diagnostics.model import MigrationKind, MigrationRef, MigrationSummary

Answer = tuple[int, str, str]


@dataclass
class FakeHost:
    files: dict[str, list[str]] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    domains: list[str] = field(default_factory=list)
    # argv[0] -> answer, or a function of argv
    answers: dict[str, Answer | Callable[[list[str]], Answer]] = field(
        default_factory=dict
    )


def _grep(host: FakeHost, argv: list[str]) -> Answer:
    patterns: list[str] = []
    cap, fixed, files, i = 10**9, False, [], 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            files = argv[i + 1 :]
            break
        if arg in ("-m", "-e"):
            if arg == "-m":
                cap = int(argv[i + 1])
            else:
                patterns.append(argv[i + 1])
            i += 2
            continue
        fixed = fixed or arg == "-F"
        i += 1
    out = []
    for path in files:
        found = 0
        for n, line in enumerate(host.files.get(path, []), start=1):
            if found >= cap:
                break
            if any((p in line) if fixed else re.search(p, line) for p in patterns):
                out.append(f"{path}:{n}:{line}\n")
                found += 1
    return (0 if out else 1), "".join(out), ""


def answer(host: FakeHost, command: str) -> Answer:
    words = shlex.split(command)
    cap = None
    if "|" in words:
        at = words.index("|")
        assert words[at + 1 : at + 3] == ["head", "-c"], command
        cap = int(words[at + 3])
        words = words[:at]
    if words[:2] == ["sudo", "-n"] and words[2:3] != ["-u"]:
        words = words[2:]
    if words[:1] == ["timeout"]:
        words = words[2:]
    if words[:1] == ["grep"]:
        code, out, err = _grep(host, words)
    elif words[:2] == ["test", "-d"]:
        code, out, err = (0 if words[-1] in host.dirs else 1), "", ""
    elif words[:4] == ["virsh", "-r", "list", "--all"]:
        code, out, err = 0, "".join(f"{d}\n" for d in host.domains), ""
    elif words[0] in host.answers:
        given = host.answers[words[0]]
        code, out, err = given(words) if callable(given) else given
    else:
        code, out, err = 127, "", f"bash: {words[0]}: command not found\n"
    if cap is not None:
        out = out.encode()[:cap].decode(errors="ignore")
    return code, out, err


class _Forwarding(asyncssh.SSHServer):
    """A bastion: allows direct-tcpip channels (ssh -J) to anywhere on loopback."""

    def connection_requested(self, dest_host: str, dest_port: int, *_: Any) -> bool:
        return dest_host == "127.0.0.1"


class FakeFleet:
    """One asyncssh server per host on 127.0.0.1; every command is recorded."""

    def __init__(
        self,
        key_dir: Path,
        hosts: dict[str, FakeHost],
        jump_hosts: tuple[str, ...] = (),
    ) -> None:
        self.hosts = hosts
        self.jump_hosts = jump_hosts
        self.commands: list[tuple[str, str]] = []
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = key_dir / "id_diag"
        self.client_key.write_private_key(str(self.client_key_path))
        self.host_keys = {
            h: asyncssh.generate_private_key("ssh-ed25519") for h in hosts
        }
        self._servers: list[Any] = []

    async def start(self) -> dict[str, tuple[int, str]]:
        """Start every server: host -> (port, public host key line)."""
        result = {}
        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key().decode()
        )
        for name, host in self.hosts.items():

            def handle(process: Any, name: str = name, host: FakeHost = host) -> None:
                self.commands.append((name, process.command))
                if process.command == "hang":
                    return  # never exits: a command that outlives its timeout
                code, out, err = answer(host, process.command)
                process.stdout.write(out)
                process.stderr.write(err)
                process.exit(code)

            server = await asyncssh.create_server(
                _Forwarding if name in self.jump_hosts else asyncssh.SSHServer,
                "127.0.0.1",
                0,
                server_host_keys=[self.host_keys[name]],
                authorized_client_keys=authorized,
                process_factory=handle,
            )
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
            pub = self.host_keys[name].export_public_key().decode().split()[:2]
            result[name] = (port, " ".join(pub))
        return result

    def close(self) -> None:
        for server in self._servers:
            server.close()


async def silent_server() -> tuple[asyncio.Server, int]:
    """A TCP port that accepts and never speaks SSH (a hung sshd)."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def known_hosts_line(port: int, pubkey: str) -> str:
    return f"[127.0.0.1]:{port} {pubkey}\n"


def make_ctx(
    clients: Any,
    *,
    source: str | None = "cmp-a-01",
    dest: str | None = "cmp-b-01",
    server_id: str = "5d7a0a3e-4b7c-4a43-9a55-0c1a2b3c4d5e",
    instance_name: str | None = "instance-00000001",
    request_id: str | None = "req-11111111-2222-3333-4444-555555555555",
    window: tuple[datetime, datetime] | None = None,
    self_hosted: bool = True,
) -> CollectContext:
    server = Server(
        provenance="test",
        id=server_id,
        name="vm1",
        status="ACTIVE",
        vm_state="active",
        task_state=None,
        power_state=1,
        host=source,
        hypervisor_hostname=source,
        instance_name=instance_name,
        availability_zone="nova",
        pinned_availability_zone=None,
        host_status="UP",
        locked=False,
        flavor=FlavorInfo(name="m1", vcpus=1, ram_mb=512, disk_gb=1),
        image_id="img",
    )
    migration = MigrationSummary(
        id="1",
        uuid=None,
        kind=MigrationKind.LIVE,
        block_migration=False,
        status="error",
        source_host=source,
        dest_host=dest,
        request_id=request_id,
    )
    return CollectContext(
        ref=MigrationRef(server=server_id),
        server=server,
        migrations=None,
        actions=None,
        migration=migration,
        source_host=source,
        dest_host=dest,
        window=window,
        self_hosted=self_hosted,
        clients=clients,
    )


def clients(hosts: Any = None, mgmt: Any = None) -> SimpleNamespace:
    return SimpleNamespace(hosts=hosts, mgmt=mgmt)
