"""Keystone refusing the bot's credentials, and a token revoked mid-run, through the CLI."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from diagnostics import cli_diagnose
from sim.region.faults import Fault
from sim.testing import start_region
from tests.e2e.test_outage_matrix import fast_config, run_cli

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
]
BIN = Path(sys.executable).parent
SCENARIO, VM = "port-binding-failed", "api-01"
# the first Placement request comes after the bootstrap (server, migrations, actions)
FIRST_PLACEMENT_CALL = r"^/placement/resource_providers"


AUTH_POST = "POST /identity/v3/auth/tokens"


def auth_posts(requests: list[str]) -> int:
    return sum(1 for r in requests if r == AUTH_POST)


async def test_refused_credentials_exit_3_with_one_line_naming_the_cloud(
    tmp_path: Path,
) -> None:
    """The real `migrate-diag` process: exit 3, one stderr line that names the cloud and
    says Keystone refused the credentials, no report, and no retry loop."""
    async with start_region(SCENARIO, tmp_path) as region:
        config = fast_config(region.paths, tmp_path)  # type: ignore[attr-defined]
        await region.set_fault("keystone", "401")
        proc = await asyncio.create_subprocess_exec(
            BIN / "migrate-diag", "diagnose", VM, "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        requests = list(region.requests)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == cli_diagnose.EXIT_UNREACHABLE
    assert out == b""
    assert len(lines) == 1, lines
    assert lines[0].startswith("migrate-diag: the cloud 'sim' refused the bot: ")
    assert "Keystone refused the credentials (HTTP 401)" in lines[0]
    # the server lookup and three version discoveries start at once, each logs in and
    # retries once at most: a handful, never a loop
    assert auth_posts(requests) <= 8, requests


async def test_a_token_revoked_mid_run_is_renewed_and_the_verdict_stands(
    tmp_path: Path,
) -> None:
    """Every token revoked when the first Placement call arrives, the password still
    good: one new login, and the same verdict as a run without the revocation."""
    async with start_region(SCENARIO, tmp_path) as region:
        config = fast_config(region.paths, tmp_path)  # type: ignore[attr-defined]
        _, healthy, _ = await run_cli(config, VM)
        await region.set_fault(
            "keystone", Fault(mode="revoke", match=FIRST_PLACEMENT_CALL)
        )
        before = len(region.requests)
        code, report, _ = await run_cli(config, VM)
        requests = region.requests[before:]
    assert code == cli_diagnose.EXIT_ROOT_CAUSE
    assert report["root_cause"]["id"] == healthy["root_cause"]["id"]
    assert report["root_cause"]["confidence"] == healthy["root_cause"]["confidence"]
    # the first login and the renewal; keystoneauth drops the token on every 401 it
    # gets, so each request already sent with the revoked token may log in once more
    # (seen: 3 of 2,299 in CI), never more than those and never a loop
    logins = [i for i, r in enumerate(requests) if r == AUTH_POST]
    revoked = next(
        i
        for i, r in enumerate(requests)
        if re.match(FIRST_PLACEMENT_CALL, r.split()[1])
    )
    sent_with_revoked = sum(
        1
        for r in requests[revoked : logins[-1]]
        if not r.split()[1].startswith("/identity")
    )
    assert 2 <= len(logins) <= 1 + sent_with_revoked, requests
    assert not any("401" in c for c in report["could_not_check"])


async def test_credentials_refused_mid_run_leave_what_was_read_and_say_why(
    tmp_path: Path,
) -> None:
    """Token revoked and the password refused once the bootstrap is done: what was read
    stands, every step that lost its evidence says Keystone refused the credentials, and
    the verdict is no stronger than with everything read."""
    async with start_region(SCENARIO, tmp_path) as region:
        config = fast_config(region.paths, tmp_path)  # type: ignore[attr-defined]
        _, healthy, _ = await run_cli(config, VM)
        await region.set_fault(
            "keystone", Fault(mode="401", match=FIRST_PLACEMENT_CALL)
        )
        before = len(region.requests)
        code, report, _ = await run_cli(config, VM)
        requests = region.requests[before:]
    assert code in (cli_diagnose.EXIT_ROOT_CAUSE, cli_diagnose.EXIT_INCONCLUSIVE)
    step5 = next(s for s in report["steps"] if s["number"] == 5)
    assert step5["status"] == "error"
    assert "Keystone refused the credentials (HTTP 401)" in step5["summary"]
    assert any("refused the credentials" in c for c in report["could_not_check"])
    got, want = report["root_cause"], healthy["root_cause"]
    assert got["id"] in (want["id"], "unknown")
    rank = ["possible", "likely", "confirmed"]
    assert rank.index(got["confidence"]) <= rank.index(want["confidence"])
    # each refused call tries one renewal at most: no storm of logins
    assert auth_posts(requests) <= 1 + 2 * len(requests) // 3, requests
