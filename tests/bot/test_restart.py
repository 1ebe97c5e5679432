"""kill -9 of the bot mid-diagnosis, then a restart: the parent still reaches its final state.

`migrate-diag serve` runs as a real subprocess (Socket Mode to the Slack stand-in, the real
engine against the simulated region, a SQLite store on disk); the sim answers slowly so
the kill lands while the diagnosis is collecting.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.fakeslack import FakeSlack, Message

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"
SCENARIO = "libvirt-tls-expired-cert"
CLI = [sys.executable, "-m", "bot.cli"]


def all_text(msg: Message) -> str:
    return json.dumps(msg.blocks) + msg.text


def has_buttons(msg: Message) -> bool:
    return "diag.rerun" in all_text(msg)


def serve_config(region_config: Path, fake: FakeSlack, tmp_path: Path) -> Path:
    config: dict[str, Any] = yaml.safe_load(region_config.read_text())
    config["slack"] = {
        "api_base_url": fake.api_url,
        "update_interval_s": 0.05,
        "retry_backoff_s": 0.01,
        "case_lease_s": 1.0,  # a dead process's case is taken over within a second
        "post_rate_per_s": 20,
        "post_burst": 5,
    }
    config["store"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}"}
    config["health"] = {"host": "127.0.0.1", "port": 0}
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def bot_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if "proxy" not in k.lower()
    }  # loopback only
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_APP_TOKEN="xapp-test-token",
        PYTHONWARNINGS="ignore",
    )
    return env


@asynccontextmanager
async def serving(
    config: Path, fake: FakeSlack, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``migrate-diag serve`` in a subprocess, connected to the stand-in's Socket Mode."""
    connects = fake.socket.connects
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            "serve",
            "--config",
            str(config),
            env=bot_env(),
            stdout=out,
            stderr=out,
        )
    try:
        await fake.wait_for(
            lambda: fake.socket.connects > connects and fake.socket.connections,
            timeout=60,
        )
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


@pytest.mark.timeout(240)  # two bot processes and a slowed region on 2 shared cores
async def test_kill_9_mid_diagnosis_then_restart_finishes_the_case(
    fake: FakeSlack, tmp_path: Path
) -> None:
    """The restarted bot re-runs the interrupted case: final parent, buttons, history."""
    log = tmp_path / "serve.log"
    async with start_region(SCENARIO, tmp_path, latency_ms=150) as region:
        config = serve_config(region.paths["config"], fake, tmp_path)
        async with serving(config, fake, log) as first:
            await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
            # the parent is up and known to the store (its live updates follow set_parent)
            await fake.wait_call("chat.update", timeout=60)
            first.kill()  # SIGKILL: no cleanup, no final update
            await first.wait()
        [parent] = fake.history(OPS)
        assert not has_buttons(parent), "the kill came too late to test anything"
        assert "Diagnosing" in all_text(parent)

        async with serving(config, fake, log):
            final = await fake.wait_for(
                lambda: has_buttons(m := fake.message(OPS, parent.ts)) and m,
                timeout=90,
            )
            assert "Diagnosing" not in all_text(final)
            assert "`libvirt_tls`" in all_text(final)
            assert len(fake.history(OPS)) == 1  # repaired in place, not re-posted
            thread = [m.text for m in fake.thread(OPS, parent.ts)]
            assert any(t.startswith("Root cause: libvirt_tls") for t in thread)

        history = await asyncio.create_subprocess_exec(
            *CLI,
            "history",
            "--config",
            str(config),
            env=bot_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await history.communicate()
    assert history.returncode == 0, err.decode()
    [row] = [line for line in out.decode().splitlines() if "web-02" in line]
    assert "libvirt_tls" in row
    assert row.split()[-1] == "1"  # one completed run
