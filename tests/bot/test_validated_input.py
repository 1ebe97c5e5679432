"""Slack: a --target-host or --migration Nova does not know gets an ephemeral reply, and
nothing is posted or probed (the real engine against the simulated region)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import BotSettings
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import FakeSlack

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        pytest.param("ok-lm-01 --target-host cmp-a-2", "no compute host named", id="typo"),
        pytest.param('ok-lm-01 --target-host "cmp-a-02;reboot"', "is not a host name",
                     id="hostile"),
        pytest.param("ok-lm-01 --migration 999", "has no migration", id="migration"),
    ],
)  # fmt: skip
async def test_unknown_host_or_migration_is_an_ephemeral_reply_and_nothing_runs(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    arguments: str,
    said: str,
) -> None:
    """The operator's mistake is answered privately; no parent message, no thread."""
    async with start_region("healthy", tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", arguments, user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                replies = [b for uses in fake.responses.values() for b in uses]
                assert replies, "no reply to the operator"
                assert said in replies[-1]["text"]
                assert replies[-1]["response_type"] == "ephemeral"
                assert fake.calls("chat.postMessage") == []
            finally:
                await bot.close()
                await store.close()
