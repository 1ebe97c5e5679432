"""Host-key policies and the translation of paramiko's connect errors into reasons.

The reasons are what an operator reads in the report ("SSH timeout to cmp-b-01
(10.0.0.12:22) after 5s"), so each names the host, the address and what to do.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

import paramiko

from diagnostics.evidence.base import CollectorError

log = logging.getLogger(__name__)


class UnknownHostKey(Exception):
    """The server offered a key that known_hosts does not list."""

    def __init__(self, name: str, key: paramiko.PKey) -> None:
        super().__init__(name)
        self.name = name
        self.key = key


class RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise UnknownHostKey(hostname, key)


class TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Accept and remember (in memory) an unknown key; the operator opted in.

    ``remember`` outlives the client: a pool that reconnects later hands what it kept to
    the next client, so a key that changed since the first use is refused, not trusted again.
    """

    def __init__(
        self, remember: Callable[[str, paramiko.PKey], None] | None = None
    ) -> None:
        self.remember = remember

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        if self.remember is not None:
            self.remember(hostname, key)
        log.warning(
            "trusting unknown SSH host key of %s on first use (%s %s)",
            hostname,
            key.get_name(),
            key.fingerprint,
        )


def _timed_out(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    text = str(exc)
    # paramiko wraps a silent server as "Error reading SSH protocol banner" (+ the
    # socket error's text, empty for a timeout) or "Negotiation failed."
    return text in {"Error reading SSH protocol banner", "Negotiation failed."} or (
        "banner" in text and "timed out" in text
    )


def connect_error(
    exc: BaseException,
    host: str,
    address: str,
    port: int,
    user: str,
    key_file: Path | None,
    timeout: float,
    *,
    out_of_time: bool = False,
) -> CollectorError:
    """The ``CollectorError`` to report for a failed ``SSHClient.connect``."""
    where = f"{host} ({address}:{port})"
    if isinstance(exc, UnknownHostKey):
        return CollectorError(
            f"host key of {host} not in known_hosts (refusing; set "
            "ssh.accept_unknown_hosts to trust on first use)",
            f"{exc.name} offered {exc.key.get_name()} {exc.key.fingerprint}",
        )
    if isinstance(exc, paramiko.BadHostKeyException):
        return CollectorError(
            f"host key of {host} CHANGED (refusing; possible man-in-the-middle)",
            f"{where}: got {exc.key.fingerprint}, known_hosts has "
            f"{exc.expected_key.fingerprint}",
        )
    if isinstance(exc, paramiko.PasswordRequiredException):
        return CollectorError(
            f"SSH key {key_file} is encrypted (set ssh.key_passphrase_env)"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return CollectorError(f"SSH auth failed for {user}@{host}", str(exc))
    if out_of_time or _timed_out(exc):
        return CollectorError(f"SSH timeout to {where} after {timeout:g}s", str(exc))
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return CollectorError(f"SSH connection refused by {where}", str(exc))
    if isinstance(exc, socket.gaierror):
        return CollectorError(
            f"cannot resolve {address} (SSH address of {host})", str(exc)
        )
    return CollectorError(f"SSH to {where} failed: {exc}", repr(exc))
