"""Fixtures of the bot suite: the Slack stand-in, a PagerDuty endpoint, a clean environment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bot.support import PagerDutyEndpoint
from tests.fakeslack import FakeSlack

OPS = "C0OPS0001"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Bolt and slack_sdk read these implicitly; proxies would swallow loopback traffic
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    slack.world.add_channel(OPS, "ops")
    slack.world.usergroups["S0ONCALL1"] = ["U0ONCALL1"]
    slack.world.usergroups["S0SRE0001"] = ["U0SRE0001"]
    await slack.start()
    yield slack
    await slack.stop()
    assert slack.rejected_calls() == [], "Slack would have refused these messages"
    assert slack.max_ack_latency() < 3.0


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDutyEndpoint]:
    endpoint = PagerDutyEndpoint()
    await endpoint.start()
    yield endpoint
    await endpoint.stop()
