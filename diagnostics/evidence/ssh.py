"""SSH to hypervisors with paramiko: verified host keys, one connection per host, timeouts.

``HostShell`` is the pool a diagnosis uses: the first command to a host connects (through
the jump host when configured), later commands reuse the connection; a host that failed
to connect fails fast for a while with the same reason. paramiko is blocking, so every
call runs in a worker thread of the pool's own executor.

The CLI makes one pool per diagnosis. The serving bot keeps one pool for the process
(``long_lived``): connections outlive a diagnosis, a connection idle for
``ssh.idle_timeout_s`` is closed by a reaper thread, and at most
``ssh.max_inflight_per_host`` commands run on one host at once, whoever asked.

Host keys are checked against ``ssh.known_hosts`` (``[address]:port`` entries included);
an unknown key is refused unless the operator set ``ssh.accept_unknown_hosts``, and a
changed key is always refused. Trusted-on-first-use keys are kept in memory only (for
the pool's life, so a reconnect to a host whose key changed since is refused): this tool
never writes the operator's known_hosts. known_hosts is read again on every connect.

paramiko (with cryptography and invoke, ~0.2 s of CPU) is imported on first connect, not
with this module: ``preload`` starts it on a side thread as soon as the CLI knows SSH is
on, so it loads while the bootstrap waits on Nova instead of before the first request.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import select
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.executors import DaemonPool
from diagnostics.evidence.host_commands import HostCommand
from diagnostics.evidence.ssh_target import Endpoint, Target, TargetResolver
from diagnostics.request_graph import timed
from diagnostics.settings import SshSettings

if TYPE_CHECKING:
    import paramiko

log = logging.getLogger(__name__)

# What the client accepts, whatever the host sends: a command's own byte cap (the remote
# `head -c`, e.g. ssh.log_byte_cap for the log greps), else OUTPUT_CAP. A host that ignores
# its caps (a replaced grep, a hostile host) is cut here: the channel is closed once the cap
# is read, so a 2 GB answer costs the cap and paramiko's window, not 2 GB.
OUTPUT_CAP = 1024 * 1024
STDERR_CAP = 64 * 1024
_CHUNK = 65536
_POLL_S = 0.2
WORKERS = 16  # concurrent commands over all hosts of one pool
FAILURE_TTL_S = 60.0
REAP_EVERY_MAX_S = (
    30.0  # the reaper looks at least this often (and 4x per idle timeout)
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    exit_code: int  # -1 when the channel closed without an exit status
    stdout: str
    stderr: str
    command: str  # the command line as sent (for provenance: "<host>$ <command>")
    truncated: bool = False  # the local output cap was hit


_WRAPPERS = frozenset({"sudo", "-n", "timeout", "env", "LC_ALL=C"})


def preload() -> None:
    """Import paramiko (and the host-key policies built on it) on a side thread, now."""

    def load() -> None:
        try:
            importlib.import_module("diagnostics.evidence.ssh_errors")
        except ImportError:  # the first connect meets the same error and reports it
            log.debug("paramiko preload failed", exc_info=True)

    threading.Thread(target=load, name="paramiko-preload", daemon=True).start()


def _program(argv: Sequence[str]) -> str:
    """The program a command runs, past sudo/timeout wrappers (for the request graph)."""
    for arg in argv:
        if arg not in _WRAPPERS and not arg.replace(".", "").isdigit():
            return arg.rsplit("/", 1)[-1]
    return argv[0] if argv else "?"


class HostShell:
    """A pool of SSH connections to hypervisors, addressed by Nova host name."""

    def __init__(self, settings: SshSettings, *, long_lived: bool = False) -> None:
        self.settings = settings
        self.long_lived = long_lived
        self._clients: dict[str, paramiko.SSHClient] = {}
        # ssh.jump_host or the hosts' ProxyJump: one connection per jump host, shared
        self._jumps: dict[Endpoint, paramiko.SSHClient] = {}
        self._targets = TargetResolver(settings)
        # host -> (reason, when): a failed host fails fast for FAILURE_TTL_S, so a diagnosis
        # does not wait out the same timeout per collector, and a long-lived pool retries
        self._failures: dict[str, tuple[CollectorError, float]] = {}
        self._host_ips: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._executor: DaemonPool | None = None
        # keys trusted on first use (ssh.accept_unknown_hosts), for the pool's life
        # (made on the first connect, under _guard: paramiko loads then)
        self._first_use: paramiko.HostKeys | None = None
        # per host: commands running now, and when the last one ended (monotonic)
        self._busy: dict[str, int] = {}
        self._used: dict[str, float] = {}
        self._jump_used: dict[Endpoint, float] = {}
        self._inflight: dict[str, asyncio.Semaphore] = {}
        self._reaper: threading.Thread | None = None
        self._stop_reaper = threading.Event()
        # host_ip hints are learnt from os-hypervisors at most once per pool
        self.hint_lock = asyncio.Lock()
        self.hints_loaded = False

    # ---- addressing -----------------------------------------------------------------------

    def hint_host_ip(self, host: str, host_ip: str | None) -> None:
        """Remember a hypervisor's ``host_ip`` (from the Hypervisors API) for ``resolve``."""
        if host_ip:
            self._host_ips[host] = host_ip

    def needs_host_ip(self, host: str) -> bool:
        """Would ``resolve`` fall back to the bare name for want of a host_ip hint?"""
        if not self.settings.use_hypervisor_host_ip or host in self._host_ips:
            return False
        try:
            return not self._targets.names_address(host)
        except CollectorError:
            return True  # an unreadable ssh_config is reported by the connect, per host

    def target(self, host: str, host_ip: str | None = None) -> Target:
        """Nova host name -> whom to connect to: static map, pattern, ssh_config, host_ip, the name."""
        return self._targets.resolve(host, host_ip or self._host_ips.get(host))

    def resolve(self, host: str, host_ip: str | None = None) -> tuple[str, int]:
        """Nova host name -> (address, port) (see ``target``)."""
        endpoint = self.target(host, host_ip).endpoint
        return endpoint.address, endpoint.port

    # ---- running commands -----------------------------------------------------------------

    async def run(
        self,
        host: str,
        command: HostCommand | Sequence[str],
        *,
        host_ip: str | None = None,
    ) -> CommandResult:
        """Run one command on ``host``; raises ``CollectorError`` with a human reason."""
        if not isinstance(command, HostCommand):
            command = HostCommand(tuple(command))
        line = command.line
        if self.settings.sudo and command.argv[:1] != ("sudo",):
            line = f"sudo -n {line}"
        cap = command.byte_cap or OUTPUT_CAP
        loop = asyncio.get_running_loop()
        work = timed(
            "ssh",
            f"{host}: {_program(command.argv)}",
            partial(self._run_blocking, host, host_ip, line, cap),
        )
        # the per-host limit waits here, on the loop: a worker thread is taken only by a
        # command that may run, so one busy host never starves the others of workers
        async with self._host_slots(host):
            return await loop.run_in_executor(self._pool(), work)

    def _host_slots(self, host: str) -> asyncio.Semaphore:
        slots = self._inflight.get(host)
        if slots is None:
            slots = asyncio.Semaphore(self.settings.max_inflight_per_host)
            self._inflight[host] = slots
        return slots

    def connected_hosts(self) -> list[str]:
        """Hosts with an open connection now (for tests and the bot's metrics)."""
        with self._guard:
            return sorted(
                h for h, c in self._clients.items() if _active(c.get_transport())
            )

    def _pool(self) -> DaemonPool:
        # A dedicated pool, not the loop's default executor: threads waiting here for a
        # host's connect lock must never starve other users of the default executor
        # (asyncio's getaddrinfo, an in-process SSH server's auth), which could deadlock.
        with self._guard:
            if self._executor is None:
                # daemon workers: a command abandoned at its timeout never delays exit
                self._executor = DaemonPool(WORKERS, "ssh")
            return self._executor

    def close(self) -> None:
        """Close every connection (the jump host last); the pool may be reused afterwards."""
        with self._guard:
            clients, self._clients = list(self._clients.values()), {}
            jumps, self._jumps = list(self._jumps.values()), {}
            executor, self._executor = self._executor, None
            self._failures.clear()
            self._host_ips.clear()
            self._inflight.clear()
            self.hints_loaded = False
            self.hint_lock = asyncio.Lock()
            self._stop_reaper.set()
            self._reaper = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for client in clients:
            client.close()
        for jump in jumps:
            jump.close()

    def _lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    # ---- idle connections (long-lived pools) ---------------------------------------------

    def _start_reaper(self) -> None:
        with self._guard:
            if not self.long_lived or self._reaper is not None:
                return
            self._stop_reaper = threading.Event()
            self._reaper = threading.Thread(
                target=self._reap,
                args=(self._stop_reaper,),
                name="ssh-reaper",
                daemon=True,
            )
            self._reaper.start()

    def _reap(self, stop: threading.Event) -> None:
        every = min(REAP_EVERY_MAX_S, self.settings.idle_timeout_s / 4)
        while not stop.wait(every):
            self.close_idle()

    def close_idle(self, now: float | None = None) -> list[str]:
        """Close connections no command used for ``ssh.idle_timeout_s``; returns the hosts."""
        now = time.monotonic() if now is None else now
        idle_for = self.settings.idle_timeout_s
        closed: list[tuple[str, paramiko.SSHClient]] = []
        for host in list(self._clients):
            lock = self._lock(host)
            if not lock.acquire(blocking=False):
                continue  # connecting right now: not idle
            try:
                with self._guard:
                    client = self._clients.get(host)
                    idle = not self._busy.get(host) and (
                        now - self._used.get(host, now) >= idle_for
                    )
                    if client is not None and idle:
                        del self._clients[host]
                        closed.append((host, client))
            finally:
                lock.release()
        with self._guard:
            jumps = [
                (j, c)
                for j, c in self._jumps.items()
                if not self._clients and now - self._jump_used.get(j, now) >= idle_for
            ]
            for jump, _ in jumps:
                del self._jumps[jump]
            if closed and not self._clients:
                self.hints_loaded = False  # a quiet pool learns host_ips afresh
        for host, client in closed:
            log.debug("closing the idle SSH connection to %s", host)
            client.close()
        for _, jump_client in jumps:
            jump_client.close()
        return [host for host, _ in closed]

    # ---- one command ----------------------------------------------------------------------

    def _run_blocking(
        self, host: str, host_ip: str | None, line: str, cap: int
    ) -> CommandResult:
        import paramiko

        client = self._client(host, host_ip)
        try:
            return self._exec(host, client, line, cap)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            # a dropped connection: forget it so the next command reconnects
            with self._guard:
                if self._clients.get(host) is client:
                    del self._clients[host]
            client.close()
            raise CollectorError(f"SSH error on {host}: {exc}") from exc
        finally:
            with self._guard:
                self._busy[host] -= 1
                self._used[host] = time.monotonic()

    def _client(self, host: str, host_ip: str | None) -> paramiko.SSHClient:
        with self._lock(host):
            failed = self._failures.get(host)
            if failed is not None and time.monotonic() - failed[1] < FAILURE_TTL_S:
                raise failed[0]
            client = self._clients.get(host)
            if client is None or not _active(client.get_transport()):
                try:
                    target = self.target(host, host_ip)
                    client = self._connect(
                        host, target.endpoint, self._jump_sock(target)
                    )
                except CollectorError as err:
                    self._failures[host] = (err, time.monotonic())
                    raise
                with self._guard:
                    self._clients[host] = client
                self._start_reaper()
            with self._guard:  # busy before the host lock goes: the reaper skips it
                self._busy[host] = self._busy.get(host, 0) + 1
            return client

    def _new_client(self) -> paramiko.SSHClient:
        import paramiko

        from diagnostics.evidence.ssh_errors import RefuseUnknown, TrustOnFirstUse

        client = paramiko.SSHClient()
        known = Path(self.settings.known_hosts).expanduser()
        if known.is_file():
            # "system" keys: paramiko never writes these back (load_host_keys would)
            client.load_system_host_keys(str(known))
        with (
            self._guard
        ):  # keys this pool trusted on first use stay trusted, and binding
            if self._first_use is None:
                self._first_use = paramiko.HostKeys()
            for name, keys in self._first_use.items():
                for key_type, key in keys.items():
                    client.get_host_keys().add(name, key_type, key)
        policy = (
            TrustOnFirstUse(self._trust)
            if self.settings.accept_unknown_hosts
            else RefuseUnknown()
        )
        client.set_missing_host_key_policy(policy)
        return client

    def _trust(self, name: str, key: paramiko.PKey) -> None:
        with self._guard:
            assert (
                self._first_use is not None
            )  # made by _new_client, before any connect
            self._first_use.add(name, key.get_name(), key)

    def _connect(
        self, host: str, endpoint: Endpoint, sock: paramiko.Channel | None
    ) -> paramiko.SSHClient:
        import paramiko

        from diagnostics.evidence.ssh_errors import UnknownHostKey, connect_error

        s = self.settings
        address, port, user = endpoint.address, endpoint.port, endpoint.user
        keys = [str(k) for k in endpoint.key_files]
        key_file = endpoint.key_files[0] if endpoint.key_files else None
        passphrase = (
            os.environ.get(s.key_passphrase_env) if s.key_passphrase_env else None
        )
        client = self._new_client()
        timeout = s.connect_timeout_s
        started = time.monotonic()
        try:
            client.connect(
                address,
                port=port,
                username=user,
                # paramiko tries each of a list in turn; its stubs only say str
                key_filename=keys or None,  # type: ignore[arg-type]
                passphrase=passphrase,
                allow_agent=endpoint.use_agent,
                look_for_keys=not keys,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                sock=sock,
            )
        except (paramiko.SSHException, OSError, EOFError, UnknownHostKey) as exc:
            client.close()
            # paramiko reports a silent server in several ways ("No existing session",
            # "Error reading SSH protocol banner"); running out the clock is the tell
            out_of_time = time.monotonic() - started >= timeout * 0.95
            raise connect_error(
                exc,
                host,
                address,
                port,
                user,
                key_file,
                timeout,
                out_of_time=out_of_time,
            ) from None
        return client

    def _jump_sock(self, target: Target) -> paramiko.Channel | None:
        """A direct-tcpip channel to the target through its jump host, if it has one."""
        import paramiko

        jump = target.jump
        if jump is None:
            return None
        label = f"jump host {jump.address}"
        with self._lock(
            f"\0jump {jump}"
        ):  # one connection per jump host, however many hosts
            client = self._jumps.get(jump)
            transport = client.get_transport() if client else None
            if client is None or transport is None or not transport.is_active():
                client = self._connect(label, jump, None)
                transport = client.get_transport()
                with self._guard:
                    self._jumps[jump] = client
            with self._guard:
                self._jump_used[jump] = time.monotonic()
        if transport is None:  # pragma: no cover - connect() always leaves a transport
            raise CollectorError(f"{label} has no transport")
        address, port = target.endpoint.address, target.endpoint.port
        try:
            return transport.open_channel(
                "direct-tcpip",
                (address, port),
                ("127.0.0.1", 0),
                timeout=self.settings.connect_timeout_s,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise CollectorError(
                f"{label} could not reach {address}:{port}", str(exc)
            ) from None

    def _exec(
        self, host: str, client: paramiko.SSHClient, line: str, cap: int
    ) -> CommandResult:
        """Run ``line``; keep at most ``cap`` bytes of stdout, then stop reading and close."""
        import paramiko

        transport = client.get_transport()
        if transport is None:
            raise paramiko.SSHException("connection closed")
        channel = transport.open_session(timeout=self.settings.connect_timeout_s)
        limit = self.settings.command_timeout_s
        deadline = time.monotonic() + limit
        out, err = bytearray(), bytearray()
        truncated = False
        try:
            channel.exec_command(line)
            while True:
                # read one byte past the cap, never more: that byte says "there was more"
                while channel.recv_ready() and len(out) <= cap:
                    out += channel.recv(min(_CHUNK, cap + 1 - len(out)))
                while channel.recv_stderr_ready() and len(err) <= STDERR_CAP:
                    err += channel.recv_stderr(min(_CHUNK, STDERR_CAP + 1 - len(err)))
                if len(out) > cap or len(err) > STDERR_CAP:
                    truncated = True
                    break
                if channel.exit_status_ready() and not (
                    channel.recv_ready() or channel.recv_stderr_ready()
                ):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CollectorError(
                        f"command timed out on {host} after {limit:g}s", line[:200]
                    )
                select.select([channel], [], [], min(remaining, _POLL_S))
            exit_code = channel.exit_status if channel.exit_status_ready() else -1
        finally:
            channel.close()
        del out[cap:], err[STDERR_CAP:]
        return CommandResult(
            exit_code=exit_code,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            command=line,
            truncated=truncated,
        )


def _active(transport: paramiko.Transport | None) -> bool:
    return transport is not None and transport.is_active()
