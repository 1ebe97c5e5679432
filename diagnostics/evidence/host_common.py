"""Helpers shared by the SSH collectors: the pool, provenance, SSH errors as values."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from diagnostics.evidence.base import CollectContext, CollectorError
from diagnostics.evidence.openstack_convert import hypervisor_from_sdk
from diagnostics.evidence.redact import redact
from diagnostics.evidence.ssh import CommandResult, HostShell
from diagnostics.evidence.types import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
_NOT_FOUND = 127


def host_shell(ctx: CollectContext) -> HostShell | Unavailable:
    """The SSH pool of this diagnosis, or why there is none."""
    shell = getattr(ctx.clients, "hosts", None)
    if not isinstance(shell, HostShell):
        return Unavailable(reason="SSH to hypervisors is disabled or not configured")
    if not shell.settings.enabled:
        return Unavailable(reason="SSH to hypervisors is disabled (ssh.enabled: false)")
    return shell


def where(host: str, result: CommandResult) -> str:
    """Provenance of a command: ``cmp-b-01$ lscpu``."""
    return redact(f"{host}$ {result.command}")


async def guarded(
    ctx: CollectContext,
    host: str | None,
    side: str,
    body: Callable[[HostShell, str], Awaitable[T | Unavailable]],
) -> T | Unavailable:
    """Resolve shell and host, run ``body``, and turn SSH errors into ``Unavailable``."""
    shell = host_shell(ctx)
    if isinstance(shell, Unavailable):
        return shell
    if not host:
        return Unavailable(reason=f"no {side} host known for this migration")
    if shell.needs_host_ip(host):
        await learn_host_ips(ctx, shell)
    try:
        return await body(shell, host)
    except CollectorError as err:
        return Unavailable(reason=err.reason, detail=redact(err.detail))


async def learn_host_ips(ctx: CollectContext, shell: HostShell) -> None:
    """Hint the pool with every hypervisor's ``host_ip`` (os-hypervisors), once.

    Only used when neither the static map nor the pattern names a host. Without the
    OpenStack client, or when the call fails, hosts are addressed by their Nova name.
    """
    api = getattr(ctx.clients, "openstack", None)
    if api is None:
        return
    async with shell.hint_lock:
        if shell.hints_loaded:
            return
        shell.hints_loaded = True

        def listing() -> list[Any]:
            return list(api.conn.compute.hypervisors(details=True))

        try:
            found, _calls = await api.call("GET /os-hypervisors/detail", listing)
        except CollectorError as err:
            log.info("no host_ip hints from os-hypervisors: %s", err.reason)
            return
        for hypervisor in found:
            info = hypervisor_from_sdk(hypervisor)
            for name in (info.service_host, info.hostname):
                if name:
                    shell.hint_host_ip(name, info.host_ip)


def refused(host: str, result: CommandResult) -> Unavailable | None:
    """A command the host could not run at all (missing tool, sudo refused)."""
    text = result.stderr.strip()
    if result.exit_code == _NOT_FOUND:
        return Unavailable(
            reason=f"command not available on {host}", detail=redact(text)
        )
    if text.startswith("sudo:"):
        return Unavailable(reason=f"sudo refused on {host}", detail=redact(text))
    return None
