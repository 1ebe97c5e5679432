"""deploy/systemd/migrate-diag.service passes `systemd-analyze verify` and is hardened.

verify checks that ExecStart's program exists, so the unit is verified as installed under a
temporary prefix (only the `/opt/migrate-diag` prefix is replaced, by one whose
`bin/migrate-diag` is this checkout's entry point); everything else is the shipped file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest

from tests.deploy.tools import ROOT, tool

UNIT = ROOT / "deploy" / "systemd" / "migrate-diag.service"
PREFIX = "/opt/migrate-diag"


def _installed(tmp_path: Path, text: str) -> Path:
    bin_dir = tmp_path / "prefix" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "migrate-diag").symlink_to(
        Path(sys.executable).with_name("migrate-diag")
    )
    unit = tmp_path / "migrate-diag.service"
    unit.write_text(text.replace(f"{PREFIX}/bin/", f"{bin_dir}/"))
    return unit


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("systemd-analyze"), "verify", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    """No error and no warning (an unknown or misspelt directive is only a warning)."""
    done = _verify(_installed(tmp_path, UNIT.read_text()))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


def test_verify_would_report_a_bad_directive(tmp_path: Path) -> None:
    """The check above can fail: a misspelt hardening option is reported."""
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=sometimes")
    assert "protect system value" in _verify(_installed(tmp_path, broken)).stderr


def test_unit_is_hardened_and_restarts() -> None:
    """Transient user, read-only OS, no new privileges, private /tmp, restart, secrets from a file."""
    unit = ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    service = unit["Service"]
    assert service["ExecStart"].startswith(f"{PREFIX}/bin/migrate-diag serve")
    expected = {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "Restart": "on-failure",
        "CapabilityBoundingSet": "",
    }
    assert {key: service[key] for key in expected} == expected
    assert service["EnvironmentFile"] == "/etc/migrate-diag/migrate-diag.env"
    # secrets only in the environment file, never as Environment= lines of the unit
    assert not [v for k, v in service.items() if k == "Environment" and "TOKEN" in v]
    assert "xoxb-" not in UNIT.read_text()


def test_exposure_score_is_low(tmp_path: Path) -> None:
    """`systemd-analyze security` rates the sandbox (0 = locked down, 10 = exposed)."""
    done = subprocess.run(
        [
            tool("systemd-analyze"),
            "security",
            "--offline=yes",
            str(_installed(tmp_path, UNIT.read_text())),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(
        r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr
    )
    if found is None:
        pytest.skip(
            f"this systemd-analyze cannot score offline: {done.stderr.strip()[:200]}"
        )
    assert float(found[1]) <= 2.0, done.stdout
