"""The test run never reads the developer's home: ~/.ssh/config, known_hosts, caches."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from diagnostics.evidence.ssh_target import TargetResolver
from diagnostics.settings import OpenStackSettings, SshSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
# one real SSH test whose settings leave ssh.config_file at its default (~/.ssh/config)
SSH_TEST = (
    "tests/evidence_host/test_sim_integration.py"
    "::test_expired_server_certificate_is_seen_by_the_tls_probe"
)


def _hostile_home(root: Path) -> tuple[Path, Path]:
    """A home whose ~/.ssh/config would steer every connection elsewhere (to closed
    loopback ports: should isolation break, nothing dials outside 127.0.0.0/8)."""
    marker = root / "proxy-command-ran"
    ssh = root / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "config").write_text(
        "Host *\n"
        "    HostName 127.0.0.2\n"
        "    Port 1\n"
        "    User mallory\n"
        "    IdentityFile ~/.ssh/mallory\n"
        "    IdentitiesOnly yes\n"
        "    ProxyJump mallory@127.0.0.3:1\n"
        f"    ProxyCommand touch {marker}\n"
    )
    return root, marker


def test_home_derived_paths_are_the_sessions_own(private_home: Path) -> None:
    """~ is a directory of this session: ssh config, known_hosts, token cache under it."""
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert Path("~").expanduser() == private_home != real_home
    settings = SshSettings()
    assert settings.config_file is not None
    assert settings.config_file.expanduser().is_relative_to(private_home)
    assert settings.known_hosts.expanduser().is_relative_to(private_home)
    assert OpenStackSettings().token_cache_path().is_relative_to(private_home)
    assert not any(name.startswith("OS_") for name in os.environ)


def test_the_hostile_config_would_steer_ssh(tmp_path: Path) -> None:
    """The config below is hostile to the code under test: read, it redirects and jumps."""
    home, _ = _hostile_home(tmp_path)
    target = TargetResolver(SshSettings(config_file=home / ".ssh/config")).resolve(
        "cmp-a-01"
    )
    assert target.endpoint.address == "127.0.0.2"
    assert target.endpoint.user == "mallory"
    assert target.jump is not None
    assert target.jump.user == "mallory"


def test_a_hostile_ssh_config_in_home_does_not_reach_the_tests_ssh(
    tmp_path: Path,
) -> None:
    """A run started with HOME holding a ProxyJump/HostName/User rewrite still passes
    its real SSH test, and the config's ProxyCommand never runs."""
    home, marker = _hostile_home(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SSH_TEST],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert not marker.exists()
