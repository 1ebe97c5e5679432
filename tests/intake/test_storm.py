"""A storm of 50 failures from one host, end to end: Nova's Notifier → RabbitMQ → cases →
the real SlackCasePoster against the local Slack stand-in (with its rate limiter): one
parent with the breakdown, one reply per cause, every VM's diagnosis stored and shown on
demand."""

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
from tests.bot.support import SECRETS
from tests.bot.test_storm_board import CauseDiagnoser
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


async def test_storm_of_fifty_is_one_incident(slack: FakeSlack, pg_url: str) -> None:
    """50 failures from one host, 2 causes: one parent, 2 group replies (+ the long
    group's VM list as a file), 50 diagnoses stored, no 429."""
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
    store = await Store.open(pg_url)
    client = build_client(settings, SECRETS.bot_token)
    # a margin under the limit: client-side spacing shrinks in transit (jitter)
    pacer = ChannelPacer(rate_per_s=RATE * 0.85, burst=4)
    services = build_services(
        settings,
        # 40 VMs hit the expired certificate, 10 had no room on the destination
        diagnoser=CauseDiagnoser(
            {
                vm: ("libvirt_tls" if n < 40 else "insufficient_resources")
                for n, vm in enumerate(vms)
            }
        ),
        store=store,
        client=client,
        routing_key=None,
        pacer=pacer,
    )
    poster = SlackCasePoster(client, services)
    cases = CaseManager(
        settings,
        store,
        poster,
        SlackIncidentPoster(poster.writer, poster.storms),
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
    await poster.storms.flush(OPS, parent.ts)
    thread = slack.thread(OPS, parent.ts)
    # O(causes): the two group replies and the 40-VM group's list file, nothing per VM
    assert len(thread) == 3, [m.text for m in thread]
    assert sorted(m.text.split(":")[0] for m in thread if not m.files) == [
        "10 VMs",
        "40 VMs",
    ]
    files = [f for m in thread for f in m.files]
    assert len(files) == 1
    assert files[0]["content"].decode().count("\n") == 40
    final = slack.message(OPS, parent.ts)
    assert final.text.startswith("50 VMs failed: 40 `libvirt_tls` on cmp-a-02 — ")
    assert "; 10 `insufficient_resources` on cmp-a-02 — " in final.text
    assert "still being diagnosed" not in final.text
    diagnosed = [(await store.get_case(cid)) for cid in await _case_ids(cases)]
    assert len(diagnosed) == STORM
    assert all(case and case.thread_ts == parent.ts for case in diagnosed)
    assert all(case and case.parent_ts is None for case in diagnosed)
    for case in diagnosed:
        assert case is not None
        assert len(await store.latest_runs(case.id, limit=1)) == 1
    assert [c for c in slack.calls() if c.status == 429] == []
    assert slack.rejected_calls() == []
    # one VM on demand: its own parent and card in the thread
    one = diagnosed[0]
    assert one is not None
    assert await poster.show_case(one.id) is None
    await poster.writer.flush(OPS, parent.ts)
    shown = await store.get_case(one.id)
    assert shown is not None
    assert shown.parent_ts in {m.ts for m in slack.thread(OPS, parent.ts)}
    await poster.storms.close()
    await store.close()


async def _case_ids(cases: CaseManager) -> list[str]:
    from sqlalchemy import select

    from bot.store.intake_models import IntakeCaseRow

    async with cases.intake.store.sessions() as session:
        return list((await session.scalars(select(IntakeCaseRow.case_id))).all())
