"""Slash command on a region full of planted secrets: nothing secret is posted or stored.

The real Bolt app, the real engine against the simulated region with the redaction corpus
in its fault, events, tracebacks, host and pod logs (``tests.redaction_plant``), the Slack
stand-in recording every call. Scanned: every Web API call's arguments as sent (messages,
edits, blocks), the uploaded evidence file, and every row of every table of the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.settings import BotSettings
from bot.store.models import Base
from bot.store.repo import Store
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import FakeSlack
from tests.redaction_corpus import leaks
from tests.redaction_plant import planted_scenario

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"


async def _rows(store: Store) -> list[str]:
    rows: list[str] = []
    async with store.sessions() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table))
            rows += [f"{table.name}: {[str(v) for v in r]}" for r in result.all()]
    return rows


async def test_nothing_secret_reaches_slack_the_evidence_file_or_the_store(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """0 corpus secrets in every Slack call, the evidence upload and every stored row."""
    scenario, vm = planted_scenario(tmp_path)
    async with start_region(scenario, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", vm, user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                parent = fake.history(OPS)[0]
                await fake.click(OPS, parent.ts, "diag.show-evidence", user=OPERATOR)
                upload = await fake.wait_for(
                    lambda: next(
                        (m for m in fake.thread(OPS, parent.ts) if m.files), None
                    )
                )
                rows = await _rows(store)
            finally:
                await bot.close()
                await store.close()
    evidence = upload.files[0]["content"].decode()
    assert "PLANTED-FAULT" in evidence  # the planted fault was shown, masked
    assert "***" in evidence
    posted = json.dumps([c.args for c in fake.calls()], default=str, ensure_ascii=False)
    assert leaks([posted]) == []
    assert leaks([evidence]) == []
    assert any(r.startswith("runs: ") and "PLANTED-FAULT" in r for r in rows)
    assert leaks(rows) == []
