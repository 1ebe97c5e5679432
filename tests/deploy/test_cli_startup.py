"""`migrate-diag --help` / `--version` load no SDK: the command line answers before any import cost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Top-level packages that only a subcommand's work may pull in.
HEAVY = (
    "openstack",
    "keystoneauth1",
    "kubernetes",
    "paramiko",
    "pydantic",
    "yaml",
    "slack_sdk",
    "slack_bolt",
    "sqlalchemy",
    "aio_pika",
    "aiohttp",
    "prometheus_client",
    "sim",
    "bot.settings",
    "diagnostics.settings",
    "diagnostics.service",
    "asyncio",
)

_PROBE = """
import contextlib, io, json, sys
from bot.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def _heavy(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("--version",),
        ("diagnose", "--help"),
        ("serve", "--help"),
        ("sim", "up", "--help"),
    ],
    ids=" ".join,
)
def test_help_and_version_import_no_sdk(argv: tuple[str, ...]) -> None:
    """None of the SDKs, pydantic settings, Slack or the sim is imported to answer."""
    result = _run(*argv)
    assert result["code"] == 0, result["out"]
    assert _heavy(result["modules"]) == []


def test_version_names_the_installed_distribution() -> None:
    """`--version` prints the program and the version pip installed."""
    from importlib.metadata import version

    assert _run("--version")["out"] == f"migrate-diag {version('migrate-diag')}\n"


def test_probe_would_see_a_heavy_import() -> None:
    """The check can fail: a real subcommand path does import the SDKs."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, diagnostics.service; print(' '.join(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "openstack" in _heavy(done.stdout.split())
