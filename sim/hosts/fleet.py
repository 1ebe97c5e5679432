"""The simulated hypervisors as real SSH servers, one asyncssh listener per host.

Each reachable host listens on its own 127.0.0.1 port with its own ed25519 host key
(made at start), accepts public-key auth for the client key in ``key_dir`` (any user
name), and answers ``exec`` requests through the interpreter in ``sim/hosts/shell.py``. Every
command is recorded in ``state.ssh_commands`` before it is interpreted. No shell, no
port forwarding, no SFTP. Connections are counted per host (``opened``, ``open_now``) and
``wait_until(predicate)`` re-checks on each connect and disconnect, so a test waits for a
state instead of sleeping; ``rekey`` restarts a host on its port with a new host key.
``apply_fault`` takes every host down on its port (``refused``: nothing listens;
``hang``: the port accepts and never sends the SSH banner) and brings it back with the
same host key (``None``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh

from sim.hosts.shell import execute
from sim.region.state import RegionState

log = logging.getLogger(__name__)
CLIENT_KEY_NAME = "id_ed25519"


class _HostServer(asyncssh.SSHServer):
    def __init__(
        self,
        authorized: asyncssh.SSHAuthorizedKeys,
        on_connection: Callable[[int], None],
    ) -> None:
        self._authorized = authorized
        self._on_connection = on_connection

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._on_connection(+1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_connection(-1)

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is required for every user

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # validate() returns the key's options (an empty dict for a plain key) or None
        return self._authorized.validate(key, "127.0.0.1", "127.0.0.1") is not None


class HostFleet:
    """SSH servers for every reachable host of the region."""

    def __init__(self, state: RegionState, key_dir: Path, latency_ms: int = 0) -> None:
        self.state = state
        self.key_dir = Path(key_dir)
        self.latency_ms = latency_ms
        self.client_key_path = self.key_dir / CLIENT_KEY_NAME
        self._servers: dict[str, asyncssh.SSHAcceptor] = {}
        self._ports: dict[str, int] = {}
        self._host_keys: dict[str, asyncssh.SSHKey] = {}
        # hosts in a "hang" outage: a plain TCP listener holding every connection
        self._holders: dict[str, asyncio.Server] = {}
        self._held: list[asyncio.StreamWriter] = []
        self.opened: Counter[str] = Counter()  # connections ever accepted, per host
        self.open_now: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def _client_key(self) -> asyncssh.SSHKey:
        """The client key authorized on every host (reused if the region made one)."""
        self.key_dir.mkdir(parents=True, exist_ok=True)
        if self.client_key_path.exists():
            return asyncssh.read_private_key(str(self.client_key_path))
        key = asyncssh.generate_private_key("ssh-ed25519", comment="migrate-diag-sim")
        self.client_key_path.write_bytes(key.export_private_key("openssh"))
        self.client_key_path.chmod(0o600)
        key.write_public_key(str(self.client_key_path.with_suffix(".pub")))
        return key

    async def start(self) -> dict[str, tuple[int, str]]:
        """Start the listeners: nova host name -> (port, ``ssh-ed25519 AAAA...`` host key)."""
        endpoints: dict[str, tuple[int, str]] = {}
        for name, host in self.state.scenario.hosts.items():
            if host.reachable and host.ssh_open:
                endpoints[name] = await self._listen(name, 0)
        fault = self.state.faults.get("ssh")
        if fault is not None:
            await self.apply_fault(fault.mode)
        return endpoints

    async def apply_fault(self, mode: str | None) -> None:
        """Every host ``refused``, ``hang`` or (None) answering again, on its own port."""
        await self._close_holders()
        for name, port in self._ports.items():
            server = self._servers.pop(name, None)
            if server is not None:
                server.close()
                await server.wait_closed()
            if mode is None:
                await self._listen(name, port, self._host_keys[name])
            elif mode == "hang":
                self._holders[name] = await asyncio.start_server(
                    self._hold, "127.0.0.1", port
                )

    async def _hold(
        self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._held.append(writer)  # accepted, and never a byte sent

    async def _close_holders(self) -> None:
        for writer in self._held:
            writer.close()
        self._held.clear()
        for holder in self._holders.values():
            holder.close()
            await holder.wait_closed()
        self._holders.clear()

    async def rekey(self, name: str) -> tuple[int, str]:
        """Restart ``name`` on its port with a new host key (its connections are dropped)."""
        port = self._ports[name]
        server = self._servers.pop(name)
        server.close()
        await server.wait_closed()
        return await self._listen(name, port)

    async def _listen(
        self, name: str, port: int, host_key: asyncssh.SSHKey | None = None
    ) -> tuple[int, str]:
        client = self._client_key()
        authorized = asyncssh.import_authorized_keys(
            client.export_public_key("openssh").decode()
        )
        if host_key is None:
            host_key = asyncssh.generate_private_key("ssh-ed25519", comment=name)
        self._host_keys[name] = host_key
        server = await asyncssh.listen(
            "127.0.0.1",
            port,
            server_host_keys=[host_key],
            server_factory=lambda: _HostServer(authorized, self._counter(name)),
            process_factory=self._handler(name),
            allow_scp=False,
            sftp_factory=None,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_pty=False,
            encoding=None,  # bytes: the output is sent exactly as produced
        )
        self._servers[name] = server
        self._ports[name] = server.sockets[0].getsockname()[1]
        key_line = host_key.export_public_key("openssh").decode().strip()
        return self._ports[name], " ".join(key_line.split()[:2])

    def _counter(self, name: str) -> Callable[[int], None]:
        def count(delta: int) -> None:
            if delta > 0:
                self.opened[name] += 1
            self.open_now[name] += delta
            self._changed.set()  # wakes every waiter; each takes a fresh event
            self._changed = asyncio.Event()

        return count

    async def wait_until(
        self, predicate: Callable[[], bool], timeout_s: float = 10.0
    ) -> None:
        """Return once ``predicate()`` holds, re-checked at every connect and disconnect."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await self._changed.wait()

    async def stop(self) -> None:
        """Close every listener and its open connections."""
        await self._close_holders()
        for server in self._servers.values():
            server.close()
            await server.wait_closed()
        self._servers.clear()

    def _handler(
        self, host: str
    ) -> Callable[[asyncssh.SSHServerProcess[bytes]], Awaitable[None]]:
        async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
            command = process.command
            user = process.get_extra_info("username") or "pf9"
            if command is None:
                process.stderr.write(b"This host accepts commands only.\n")
                process.exit(1)
                return
            self.state.ssh_commands.append((host, command))
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            result = execute(self.state, host, command, user=user)
            log.debug("ssh %s@%s %r -> %d", user, host, command, result.code)
            process.stdout.write(result.out.encode())
            process.stderr.write(result.err.encode())
            process.exit(result.code)

        return handle
