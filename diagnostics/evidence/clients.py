"""The live connections a diagnosis uses, built from settings and closed together."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.evidence.mgmt_plane import ManagementPlaneApi
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.ssh import HostShell
from diagnostics.settings import DiagnosticsSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Clients:
    openstack: OpenStackApi
    hosts: HostShell | None
    mgmt: ManagementPlaneApi | None
    settings: DiagnosticsSettings

    @classmethod
    def from_settings(cls, settings: DiagnosticsSettings) -> Clients:
        """Connect lazily: nothing here talks to the network until a collector runs."""
        return cls(
            openstack=OpenStackApi.from_settings(settings.openstack),
            hosts=HostShell(settings.ssh) if settings.ssh.enabled else None,
            mgmt=ManagementPlaneApi.from_settings(settings.management_plane)
            if settings.self_hosted
            else None,
            settings=settings,
        )

    def close(self) -> None:
        self.openstack.close()
        if self.hosts is not None:
            self.hosts.close()
