"""The state directory of a running region: what a client needs to reach it.

Files: ``clouds.yaml`` (clouds ``sim`` = admin and ``sim-member``), ``ssh_config``,
``known_hosts``, the client key ``id_ed25519`` (authorized by every simulated host),
``kubeconfig`` (self-hosted only) and ``migrate-diag.yaml`` (our own CLI's config).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import asyncssh
import yaml

from sim.region import identity
from sim.region.identity import K8S_TOKEN
from sim.scenario.model import Scenario

CLIENT_KEY = "id_ed25519"
SSH_USER = "pf9"
CLOSED_PORT = 1  # tcpmux: nothing listens there, so a connect is refused at once


class Region(Protocol):
    """What the state dir needs of a started region (``sim.wiring.Region`` is one)."""

    @property
    def scenario(self) -> Scenario: ...
    @property
    def auth_url(self) -> str: ...
    @property
    def ports(self) -> Mapping[str, int]: ...
    @property
    def ssh_endpoints(self) -> Mapping[str, tuple[int, str]]: ...
    @property
    def client_key(self) -> Path | None: ...


def ensure_client_key(key_dir: Path) -> Path:
    """The client private key in ``key_dir`` (created once, mode 0600); ``.pub`` beside it."""
    path = key_dir / CLIENT_KEY
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="migrate-diag-sim")
        path.write_bytes(key.export_private_key("openssh"))
        path.chmod(0o600)
        key.write_public_key(str(path.with_suffix(".pub")))
    return path


def clouds(region: Region) -> dict[str, Any]:
    """clouds.yaml content: ``sim`` (admin) and ``sim-member`` (role member)."""

    def cloud(user: str, password: str, project: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": region.auth_url,
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": region.scenario.region,
            "interface": "public",
            "identity_api_version": 3,
        }

    return {
        "clouds": {
            "sim": cloud(
                identity.ADMIN_USER, identity.ADMIN_PASSWORD, identity.ADMIN_PROJECT
            ),
            "sim-member": cloud(
                identity.MEMBER_USER, identity.MEMBER_PASSWORD, identity.MEMBER_PROJECT
            ),
            "sim-service": cloud(
                identity.SERVICE_USER,
                identity.SERVICE_PASSWORD,
                identity.SERVICE_PROJECT,
            ),
        }
    }


def known_hosts_lines(region: Region) -> list[str]:
    """``[127.0.0.1]:<port>,<nova host> <keytype> <key>`` per SSH host."""
    lines = []
    for host, (port, key_line) in sorted(region.ssh_endpoints.items()):
        key = " ".join(key_line.split()[:2])
        lines.append(f"[127.0.0.1]:{port},{host} {key}")
    return lines


def ssh_config(region: Region, key: Path, known_hosts: Path) -> str:
    blocks = []
    for host, (port, _key) in sorted(region.ssh_endpoints.items()):
        blocks.append(
            f"Host {host}\n"
            f"    HostName 127.0.0.1\n"
            f"    Port {port}\n"
            f"    User {SSH_USER}\n"
            f"    IdentityFile {key}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {known_hosts}\n"
            f"    StrictHostKeyChecking yes\n"
        )
    return "\n".join(blocks)


def kubeconfig(region: Region) -> dict[str, Any]:
    server = f"http://127.0.0.1:{region.ports['k8s']}"
    namespace = region.scenario.namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sim", "cluster": {"server": server}}],
        "users": [{"name": "sim", "user": {"token": K8S_TOKEN}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim",
                                                   "namespace": namespace}}],
        "current-context": "sim",
    }  # fmt: skip


def storage_nodes(region: Region) -> set[str]:
    """Nodes of the volumes' cinder-volume backends (``storage-01`` of ``storage-01@lvm#x``).

    A backend whose node is no host of the scenario still gets a loopback address (a
    refused port), so the storage-node probes never dial a name outside the machine.
    """
    return {
        volume.backend_host.partition("#")[0].partition("@")[0]
        for server in region.scenario.servers
        for volume in server.volumes
    } - {""}


def migrate_diag_config(region: Region, paths: dict[str, Path]) -> dict[str, Any]:
    """Our CLI's config pointing at this region (the one place its schema lives)."""
    config: dict[str, Any] = {
        "deployment": {"mode": region.scenario.mode},
        "openstack": {"cloud": "sim", "clouds_file": str(paths["clouds"])},
        "ssh": {
            "user": SSH_USER,
            "known_hosts": str(paths["known_hosts"]),
            "key_file": str(paths["key"]),
            # every host of the region is on loopback: a powered-off host gets a port where
            # nothing listens (connection refused), so no probe ever leaves 127.0.0.1
            "hosts": {
                host: {
                    "address": "127.0.0.1",
                    "port": region.ssh_endpoints.get(host, (CLOSED_PORT, ""))[0],
                }
                for host in sorted({*region.scenario.hosts, *storage_nodes(region)})
            },
            "use_hypervisor_host_ip": False,
            # the operator's ~/.ssh/config (a Host * ProxyJump, say) must not steer the
            # sim's probes off loopback
            "config_file": None,
        },
    }
    if "kubeconfig" in paths:
        config["management_plane"] = {
            "kubeconfig": str(paths["kubeconfig"]),
            "namespace": region.scenario.namespace,
        }
    else:
        config["management_plane"] = {"enabled": False}
    return config


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def write_state_dir(region: Region, state_dir: Path) -> dict[str, Path]:
    """Write every client file for ``region`` into ``state_dir``; returns the paths."""
    state_dir.mkdir(parents=True, exist_ok=True)
    key = (
        ensure_client_key(state_dir) if region.client_key is None else region.client_key
    )
    paths: dict[str, Path] = {"key": key}
    paths["clouds"] = _write(
        state_dir / "clouds.yaml",
        yaml.safe_dump(clouds(region), sort_keys=False),
        0o600,
    )
    paths["known_hosts"] = _write(
        state_dir / "known_hosts",
        "".join(f"{ln}\n" for ln in known_hosts_lines(region)),
    )
    paths["ssh_config"] = _write(
        state_dir / "ssh_config", ssh_config(region, key, paths["known_hosts"])
    )
    if "k8s" in region.ports:
        paths["kubeconfig"] = _write(
            state_dir / "kubeconfig",
            yaml.safe_dump(kubeconfig(region), sort_keys=False),
            0o600,
        )
    paths["config"] = _write(
        state_dir / "migrate-diag.yaml",
        yaml.safe_dump(migrate_diag_config(region, paths), sort_keys=False),
    )
    return paths
