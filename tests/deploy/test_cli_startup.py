"""`migrate-diag --help` / `--version` load no SDK: the command line answers before any import cost."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

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


_DIAGNOSE_PROBE = """
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize(
    ("scenario", "vm"),
    [("cold-migration-ssh", "batch-01"), ("libvirt-tls-expired-cert", "web-02")],
    ids=["saas", "self-hosted"],
)
async def test_diagnose_imports_the_kubernetes_client_only_where_it_runs(
    scenario: str, vm: str, tmp_path: Path
) -> None:
    """A SaaS region's diagnosis never imports ``kubernetes``; a self-hosted one uses the
    client but never its generated ``CoreV1Api`` or a model (seconds of CPU on a cold
    start, for two GETs whose JSON is read raw)."""
    from sim.testing import start_region

    async with start_region(scenario, tmp_path) as region:
        config = str(region.paths["config"])  # type: ignore[attr-defined]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _DIAGNOSE_PROBE, "diagnose", vm, "--config", config,
            "--format", "json", stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
    assert proc.returncode == 0
    result = json.loads(out.decode().splitlines()[-1])
    assert result["code"] == 4  # a root cause: the diagnosis ran whole
    modules = result["modules"]
    assert isinstance(modules, list)
    kubernetes = [
        m for m in modules if m == "kubernetes" or m.startswith("kubernetes.")
    ]
    if scenario == "cold-migration-ssh":
        assert kubernetes == []
    else:
        assert "kubernetes.client.api_client" in kubernetes
        assert "kubernetes.client.api.core_v1_api" not in kubernetes
        assert not [m for m in kubernetes if m.startswith("kubernetes.client.models.")]
    assert "paramiko" in modules  # SSH ran in both
