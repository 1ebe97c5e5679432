"""Where and as whom to SSH to a hypervisor: the bot's settings merged with ``~/.ssh/config``.

Precedence, per field: what the operator chose in ``ssh:`` (the host map and pattern for the
address; ``user`` and ``port`` when set to other than their defaults, so the example file,
which lists the defaults, does not mask the OpenSSH config; ``key_file``, ``jump_host``) wins;
then the
operator's OpenSSH config (``ssh.config_file``, read with paramiko's ``SSHConfig``) for the
Nova host name: ``HostName``, ``Port``, ``User``, ``IdentityFile``, ``IdentitiesOnly``,
``ProxyJump`` (one hop; its own block applies to the jump host); then the hypervisor's
``host_ip`` hint and the bot's defaults. Other OpenSSH options (``ProxyCommand``, ciphers…)
are not used: host keys are still verified against ``ssh.known_hosts`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from diagnostics.evidence.base import CollectorError
from diagnostics.settings import SshSettings

if TYPE_CHECKING:
    import paramiko

_HOP = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:@\s]+)(?::(?P<port>\d+))?$"
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One SSH connection to open: address, port, login, keys."""

    address: str
    port: int
    user: str
    key_files: tuple[Path, ...] = ()  # empty: the SSH agent and the default keys
    use_agent: bool = True


@dataclass(frozen=True, slots=True)
class Target:
    endpoint: Endpoint
    jump: Endpoint | None = (
        None  # reach ``endpoint`` through a direct-tcpip channel here
    )
    from_config: bool = False  # ssh_config named the address (no host_ip hint needed)


def load_config(path: Path | None) -> paramiko.SSHConfig:
    """The operator's ssh_config; a missing file is an empty config (the default path may not exist)."""
    import paramiko  # loaded on first use (see diagnostics.evidence.ssh)

    if path is None:
        return paramiko.SSHConfig()
    file = Path(path).expanduser()
    if not file.is_file():
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(file))
    except (OSError, ValueError, paramiko.ConfigParseError) as exc:
        raise CollectorError(f"cannot read ssh.config_file {file}", str(exc)) from None


class TargetResolver:
    """Resolves Nova host names to SSH targets; the config file is read once, on first use."""

    def __init__(self, settings: SshSettings) -> None:
        self.settings = settings
        self._config: paramiko.SSHConfig | None = None

    def config(self) -> paramiko.SSHConfig:
        if self._config is None:
            self._config = load_config(self.settings.config_file)
        return self._config

    def names_address(self, host: str) -> bool:
        """Does the bot's map or the ssh_config give ``host`` an address of its own?"""
        s = self.settings
        if host in s.hosts or s.host_pattern:
            return True
        return self.config().lookup(host).get("hostname", host) != host

    def resolve(self, host: str, host_ip: str | None = None) -> Target:
        s = self.settings
        found = self.config().lookup(host)
        from_config = found.get("hostname", host) != host
        if host in s.hosts:
            address, port = s.hosts[host].address, s.hosts[host].port
        elif s.host_pattern:
            address, port = s.host_pattern.format(host=host), s.port
        else:
            if from_config:
                address = found["hostname"]
            elif s.use_hypervisor_host_ip and host_ip:
                address = host_ip
            else:
                address = host
            port = s.port if _chosen(s, "port") else _port(found, s.port, host)
        endpoint = self._endpoint(address, port, found)
        return Target(endpoint, self._jump(found, host), from_config)

    def _endpoint(
        self, address: str, port: int, found: paramiko.SSHConfigDict
    ) -> Endpoint:
        s = self.settings
        user = s.user if _chosen(s, "user") else found.get("user", s.user)
        if s.key_file is not None:
            return Endpoint(
                address, port, user, (Path(s.key_file).expanduser(),), False
            )
        keys = tuple(Path(k).expanduser() for k in found.get("identityfile", ()))
        only = found.get("identitiesonly", "no").lower() == "yes"
        return Endpoint(address, port, user, keys, use_agent=not (keys and only))

    def _jump(self, found: paramiko.SSHConfigDict, host: str) -> Endpoint | None:
        s = self.settings
        if s.jump_host is not None:
            jump = s.jump_host
            key = jump.key_file or s.key_file
            return Endpoint(
                jump.host,
                jump.port,
                jump.user or s.user,
                (Path(key).expanduser(),) if key else (),
                use_agent=key is None,
            )
        hops = found.get("proxyjump", "none").strip()
        if hops.lower() == "none":
            return None
        if "," in hops:
            raise CollectorError(
                f"ssh_config ProxyJump {hops!r} for {host} has several hops; "
                "only one is supported (set ssh.jump_host, or one hop)"
            )
        hop = _HOP.match(hops)
        if hop is None:
            raise CollectorError(
                f"ssh_config ProxyJump {hops!r} for {host} is not [user@]host[:port]"
            )
        name = hop["host"].strip("[]")
        own = self.config().lookup(name)
        port = int(hop["port"]) if hop["port"] else _port(own, 22, name)
        endpoint = self._endpoint(own.get("hostname", name), port, own)
        if hop["user"]:
            endpoint = Endpoint(
                endpoint.address,
                port,
                hop["user"],
                endpoint.key_files,
                endpoint.use_agent,
            )
        return endpoint


def _chosen(settings: SshSettings, name: str) -> bool:
    """Set by the operator to something other than the default."""
    default = type(settings).model_fields[name].default
    return name in settings.model_fields_set and getattr(settings, name) != default


def _port(found: paramiko.SSHConfigDict, default: int, host: str) -> int:
    raw = found.get("port")
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise CollectorError(
            f"ssh_config Port {raw!r} for {host} is not a number"
        ) from None
