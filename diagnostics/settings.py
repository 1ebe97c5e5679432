"""Typed, validated configuration of the diagnostics (the YAML's top-level sections).

Secrets never live in the YAML: a setting names an environment variable (``*_env``) or a
file (``*_file``) that holds the secret. Unknown keys and bad values are errors that name
the key and the file (``ConfigError``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from diagnostics.model import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(env: str | None, file: Path | None) -> SecretStr | None:
    """Resolve a secret from an environment variable or a file; None when neither is set."""
    if env and os.environ.get(env):
        return SecretStr(os.environ[env])
    if file is not None:
        return SecretStr(Path(file).expanduser().read_text(encoding="utf-8").strip())
    return None


class OpenStackSettings(Section):
    cloud: str | None = (
        None  # name in clouds.yaml; None -> OS_CLOUD / the OS_* environment
    )
    clouds_file: Path | None = None  # None -> openstacksdk's standard search path
    region_name: str | None = None
    # None -> negotiate: the highest the cloud offers (>= 2.84 for event details where offered)
    compute_microversion: str | None = None
    verify_tls: bool = True
    api_timeout_s: float = Field(default=15.0, gt=0)
    # requests in flight at once per service (Nova, Placement, Neutron, Cinder) from
    # this process: enough for one diagnosis' parallel calls, gentle on a large region
    max_concurrent_requests: int = Field(default=8, ge=1, le=64)
    # reuse the Keystone token across runs: keystoneauth's auth state in a 0600 file
    token_cache: bool = True
    token_cache_dir: Path | None = None  # None -> $XDG_CACHE_HOME/migrate-diag/tokens

    def token_cache_path(self) -> Path:
        if self.token_cache_dir is not None:
            return self.token_cache_dir.expanduser()
        cache_home = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
        return Path(cache_home).expanduser() / "migrate-diag" / "tokens"


class JumpHost(Section):
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None  # None -> ssh.user
    key_file: Path | None = None  # None -> ssh.key_file


class HostAddress(Section):
    address: str
    port: int = Field(default=22, ge=1, le=65535)


class SshSettings(Section):
    enabled: bool = True
    user: str = "pf9-diag"
    key_file: Path | None = None  # None -> the SSH agent / default keys
    key_passphrase_env: str | None = None
    known_hosts: Path = Path("~/.ssh/known_hosts")
    # The operator's OpenSSH config: HostName/Port/User/IdentityFile/ProxyJump for hosts the
    # settings here leave open (explicit settings win). None, or a missing file: not used.
    config_file: Path | None = Path("~/.ssh/config")
    # Unknown host keys are refused unless the operator opts in (never on by default).
    accept_unknown_hosts: bool = False
    jump_host: JumpHost | None = None
    sudo: bool = False  # prefix read commands with `sudo -n` (root-only log files)
    port: int = Field(default=22, ge=1, le=65535)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    command_timeout_s: float = Field(default=15.0, gt=0)
    # A long-lived pool (the serving bot) closes a host's connection unused this long;
    # the next command reconnects and verifies the host key again.
    idle_timeout_s: float = Field(default=300.0, gt=0)
    # Commands in flight on one host at once, however many diagnoses want it.
    max_inflight_per_host: int = Field(default=4, ge=1, le=64)
    # Nova host name -> SSH address: static map first, then pattern, then the hypervisor host_ip.
    hosts: dict[str, HostAddress] = Field(default_factory=dict)
    host_pattern: str | None = None  # e.g. "{host}.mgmt.example.com"
    use_hypervisor_host_ip: bool = True
    compute_user: str = (
        "pf9"  # the user pf9-ostackhost runs as (cold-migration SSH trust)
    )
    instances_path: str = "/opt/data/instances"
    log_files: tuple[str, ...] = ("/var/log/pf9/ostackhost.log",)
    libvirtd_log: str = "/var/log/libvirt/libvirtd.log"
    qemu_log_dir: str = "/var/log/libvirt/qemu"
    log_match_cap: int = Field(default=500, ge=1)
    log_byte_cap: int = Field(default=1_048_576, ge=1024)
    units: tuple[str, ...] = (
        "pf9-ostackhost",
        "libvirtd",
        "ovn-controller",
        "iscsid",
        "multipathd",
    )
    # Storage nodes (cinder-volume of the VM's volumes, runbook steps 7-8): the units and
    # logs there. PCD's Block Storage role first, then upstream Cinder's defaults; a log
    # that does not exist on a node is skipped, one it cannot read is reported.
    cinder_volume_units: tuple[str, ...] = ("pf9-cindervolume-base",)
    cinder_volume_logs: tuple[str, ...] = (
        "/var/log/pf9/cindervolume-base.log",
        "/var/log/cinder/cinder-volume.log",
    )


class ManagementPlaneSettings(Section):
    enabled: bool = (
        True  # set false (or deployment.mode: saas) when there is no management plane
    )
    kubeconfig: Path | None = None  # None -> in-cluster config, then ~/.kube/config
    context: str | None = None
    namespace: str = "pcd-region-one"
    deployments: tuple[str, ...] = (
        "nova-api-osapi",
        "nova-conductor",
        "nova-scheduler",
    )
    tail_lines: int = Field(default=20_000, ge=1)
    since_seconds: int = Field(default=86_400, ge=60)


class DeploymentSettings(Section):
    mode: Literal["self-hosted", "saas"] = "self-hosted"
    runbook_url: str = (
        "https://platform9.com/kb/pcd-ts/vm-deployment/virtual-machine-migration-issues"
    )


class EngineSettings(Section):
    collector_timeout_s: float = Field(default=30.0, gt=0)
    log_window_margin_s: int = Field(default=600, ge=0)
    disabled_checks: tuple[str, ...] = ()


class DiagnosticsSettings(Section):
    """The sections the diagnosis engine reads; the bot extends this with its own."""

    deployment: DeploymentSettings = DeploymentSettings()
    openstack: OpenStackSettings = OpenStackSettings()
    ssh: SshSettings = SshSettings()
    management_plane: ManagementPlaneSettings = ManagementPlaneSettings()
    engine: EngineSettings = EngineSettings()

    @property
    def self_hosted(self) -> bool:
        return self.deployment.mode == "self-hosted" and self.management_plane.enabled


S = TypeVar("S", bound=BaseModel)


def load_settings(path: Path | None, model: type[S]) -> S:
    """Load and validate a YAML config; no path -> defaults. Errors name the file and key."""
    if path is None:
        return model()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
