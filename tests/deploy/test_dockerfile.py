"""deploy/docker/Dockerfile: hadolint-clean, multi-stage, non-root, health-checked, `serve`.

Docker itself is not needed (nor usually available) to run these; the image is checked as
written: hadolint's rules, and the facts the chart and the settings rely on.
"""

from __future__ import annotations

import json
import re
import subprocess

from bot.settings import BotSettings
from tests.deploy.tools import ROOT, tool

DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def _final_stage() -> list[tuple[str, str]]:
    rows = _instructions()
    last = max(i for i, (word, _) in enumerate(rows) if word == "FROM")
    return rows[last:]


def test_hadolint_passes() -> None:
    """No finding at any severity."""
    done = subprocess.run(
        [
            tool("hadolint"),
            "--no-color",
            "--failure-threshold",
            "style",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_flag_a_bad_dockerfile(tmp_path) -> None:
    """The lint can fail: `latest`, root and apt without cleanup are findings."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n")
    done = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "DL3007" in done.stdout


def test_multi_stage_slim_python_311() -> None:
    """A build stage and a runtime stage, both from the slim Python 3.11 image."""
    rows = _instructions()
    args = dict(a.split("=", 1) for w, a in rows if w == "ARG" and "=" in a)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    froms = [a for w, a in rows if w == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    final = _final_stage()
    assert ("COPY", "--from=build /opt/migrate-diag /opt/migrate-diag") in final
    runs = " ".join(a for w, a in final if w == "RUN")
    for compiler in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert compiler not in runs  # the runtime stage installs nothing


def test_runs_as_an_unprivileged_user() -> None:
    final = _final_stage()
    (user,) = [a for w, a in final if w == "USER"]
    assert user.split(":")[0] not in {"0", "root"}
    assert "--uid 10001" in " ".join(
        a for w, a in final if w == "RUN"
    )  # the chart's runAsUser


def test_entrypoint_serves_and_healthcheck_hits_healthz_on_the_settings_port() -> None:
    """`migrate-diag serve` by default; HEALTHCHECK GETs /healthz on health.port's default."""
    final = dict(_final_stage())
    assert json.loads(final["ENTRYPOINT"]) == ["migrate-diag"]
    assert json.loads(final["CMD"]) == ["serve"]
    check = final["HEALTHCHECK"]
    assert "/healthz" in check
    assert "MIGRATE_DIAG_HEALTH_PORT" in check
    env = final["ENV"]
    assert f"MIGRATE_DIAG_HEALTH_PORT={BotSettings().health.port}" in env
    exposed = {int(p) for p in final["EXPOSE"].split()}
    defaults = BotSettings()
    assert exposed == {
        defaults.health.port,
        defaults.slack.http_port,
        defaults.intake.webhook.port,
    }


def test_dockerignore_lets_in_what_the_build_copies() -> None:
    """Every COPY source of the build stage is allowed by .dockerignore."""
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = set()
    for word, args in _instructions():
        if word == "COPY" and not args.startswith("--from"):
            copied |= set(args.split()[:-1])
    assert copied <= allowed
    assert all((ROOT / name).exists() for name in copied)
