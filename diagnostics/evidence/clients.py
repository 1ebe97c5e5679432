"""The live connections a diagnosis uses, built from settings and closed together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from diagnostics.evidence.mgmt_plane import ManagementPlaneApi
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.ssh import HostShell, preload
from diagnostics.settings import DiagnosticsSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Clients:
    openstack: OpenStackApi
    hosts: HostShell | None
    mgmt: ManagementPlaneApi | None
    settings: DiagnosticsSettings

    @classmethod
    def from_settings(
        cls, settings: DiagnosticsSettings, *, keep_ssh: bool = False
    ) -> Clients:
        """Connect lazily: nothing here talks to the network until a collector runs.

        ``keep_ssh`` (the serving bot): one SSH pool for the process, its connections kept
        across diagnoses until idle; otherwise each diagnosis gets a fresh pool.
        """
        keep = keep_ssh and settings.ssh.enabled
        if settings.ssh.enabled:
            preload()  # paramiko loads while the bootstrap waits on Nova
        return cls(
            openstack=OpenStackApi.from_settings(settings.openstack),
            hosts=HostShell(settings.ssh, long_lived=True) if keep else None,
            mgmt=ManagementPlaneApi.from_settings(settings.management_plane)
            if settings.self_hosted
            else None,
            settings=settings,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Clients]:
        """Clients for one diagnosis: shared API clients; the kept SSH pool, else a fresh
        one closed after."""
        if self.hosts is not None:
            yield self
            return
        hosts = HostShell(self.settings.ssh) if self.settings.ssh.enabled else None
        try:
            yield replace(self, hosts=hosts)
        finally:
            if hosts is not None:
                await asyncio.to_thread(hosts.close)

    def close(self) -> None:
        self.openstack.close()
        if self.hosts is not None:
            self.hosts.close()
        if self.mgmt is not None:
            self.mgmt.close()
