"""A storm of 50 failures from one host, end to end: Nova's Notifier → RabbitMQ → cases →
the real SlackCasePoster against the local Slack stand-in (with its rate limiter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import build_client, build_services
from bot.cases.manager import CaseManager
from bot.intake.amqp import NotificationConsumer
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.settings import BotSettings
from bot.store.repo import Store
from bot.times import utcnow
from tests.bot.support import SECRETS, ScriptedDiagnoser
from tests.fakeslack import FakeSlack
from tests.intake.conftest import wait_for
from tests.intake.harness import Nova, broker

pytestmark = pytest.mark.integration

OPS = "C0OPS0001"
STORM = 50
RATE = 40.0


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    # Slack's ~1 post/s per channel, time-scaled ×40 so the test stays fast: 429 beyond it
    fake = FakeSlack(post_rate_per_s=RATE, post_burst=5)
    fake.world.add_channel(OPS, "ops")
    await fake.start()
    yield fake
    await fake.stop()


async def test_storm_of_fifty_is_one_incident(
    slack: FakeSlack, sqlite_url: str
) -> None:
    """50 failures from one host: one incident parent, 50 diagnoses in its thread, no 429."""
    vms = [f"11111111-0000-4000-8000-{n:012d}" for n in range(STORM)]
    settings = BotSettings.model_validate(
        {
            "slack": {
                "api_base_url": slack.api_url,
                "default_channel": OPS,
                "update_interval_s": 0.2,
            },
            "intake": {"storms": {"group_wait_s": 30, "max_concurrent": 8}},
        }
    )
    store = await Store.open(sqlite_url)
    client = build_client(settings, SECRETS.bot_token)
    # a margin under the limit: client-side spacing shrinks in transit (jitter)
    pacer = ChannelPacer(rate_per_s=RATE * 0.85, burst=4)
    services = build_services(
        settings,
        diagnoser=ScriptedDiagnoser(known=set(vms)),
        store=store,
        client=client,
        routing_key=None,
        pacer=pacer,
    )
    cases = CaseManager(
        settings,
        store,
        SlackCasePoster(client, services),
        SlackIncidentPoster(client, pacer),
    )
    async with broker() as names:
        consumer = NotificationConsumer(
            names.config("storm", prefetch=50), cases, cases.intake
        )
        await consumer.start()
        nova = Nova(names)
        try:
            for n, vm in enumerate(vms):
                await nova.send(
                    "instance.live_migration_rollback.end",
                    uuid=vm,
                    host="cmp-dying-01",
                    request_id=f"req-storm-{n}",
                )
            await wait_for(lambda: consumer.handled == STORM)
        finally:
            nova.close()
            await consumer.stop()
    # the group wait has passed: the whole burst is dispatched together
    later = utcnow() + timedelta(seconds=31)
    cases.clock = lambda: later
    assert await cases.dispatch_due() == STORM
    await services.tasks.drain()

    top = [m for m in slack.history(OPS) if m.thread_ts is None]
    assert len(top) == 1, [m.text for m in top]
    parent = top[0]
    assert parent.text.startswith(
        "50 failed migrations sharing source host cmp-dying-01"
    )
    thread = slack.thread(OPS, parent.ts)
    diagnosed = [(await store.get_case(cid)) for cid in await _case_ids(cases)]
    assert len(diagnosed) == STORM
    assert all(case and case.thread_ts == parent.ts for case in diagnosed)
    assert {case.parent_ts for case in diagnosed if case} <= {m.ts for m in thread}
    assert [c for c in slack.calls() if c.status == 429] == []
    assert slack.rejected_calls() == []
    final = slack.message(OPS, parent.ts)
    assert "50 VMs" in str(final.blocks)
    await store.close()


async def _case_ids(cases: CaseManager) -> list[str]:
    from sqlalchemy import select

    from bot.store.intake_models import IntakeCaseRow

    async with cases.intake.store.sessions() as session:
        return list((await session.scalars(select(IntakeCaseRow.case_id))).all())
