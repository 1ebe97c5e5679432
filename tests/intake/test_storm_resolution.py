"""A resolved case counts as resolved on its incident parent (real store, stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import build_client, build_services
from bot.cases.manager import CaseManager
from bot.cases.report import FailureReport, ReportSource
from bot.cases.resolution import CaseResolver
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.posting.resolution import SlackResolutionPoster
from bot.settings import BotSettings
from bot.store.repo import Store
from bot.store.resolution_repo import ResolvedVia, SuccessfulMove
from bot.times import utcnow
from tests.bot.support import SECRETS, ScriptedDiagnoser
from tests.fakeslack import FakeSlack

pytestmark = pytest.mark.integration

OPS = "C0OPS0001"
VMS = [f"22222222-0000-4000-8000-{n:012d}" for n in range(4)]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.world.add_channel(OPS, "ops")
    await fake.start()
    yield fake
    await fake.stop()


async def test_the_incident_table_shows_a_resolved_member(
    slack: FakeSlack, sqlite_url: str
) -> None:
    settings = BotSettings.model_validate(
        {
            "slack": {
                "api_base_url": slack.api_url,
                "default_channel": OPS,
                "update_interval_s": 0.05,
            },
            "intake": {"storms": {"group_wait_s": 30}},
        }
    )
    store = await Store.open(sqlite_url)
    client = build_client(settings, SECRETS.bot_token)
    pacer = ChannelPacer(rate_per_s=20, burst=5)
    services = build_services(
        settings,
        diagnoser=ScriptedDiagnoser(known=set(VMS)),
        store=store,
        client=client,
        routing_key=None,
        pacer=pacer,
    )
    poster = SlackCasePoster(client, services)
    cases = CaseManager(
        settings, store, poster, SlackIncidentPoster(poster.writer, poster.storms)
    )
    now = utcnow()
    try:
        for n, vm in enumerate(VMS):
            await cases.submit(
                FailureReport(
                    source=ReportSource.NOTIFICATION,
                    instance_uuid=vm,
                    status="failed",
                    source_host="cmp-dying-01",
                    request_id=f"req-{n}",
                    occurred_at=now,
                    received_at=now,
                )
            )
        later = now + timedelta(seconds=31)
        cases.clock = lambda: later
        assert await cases.dispatch_due() == len(VMS)
        await services.tasks.drain()
        (parent,) = [m for m in slack.history(OPS) if m.thread_ts is None]
        assert "resolved" not in str(parent.blocks)

        resolver = CaseResolver(store, SlackResolutionPoster(poster))
        move = SuccessfulMove(
            migration_id="77",
            source_host="cmp-dying-01",
            dest_host="cmp-ok-02",
            at=utcnow() + timedelta(minutes=1),
            via=ResolvedVia.POLLER,
        )
        (done,) = await resolver.migration_succeeded(VMS[0], move)
        await poster.storms.flush(OPS, parent.ts)
        final = slack.message(OPS, parent.ts)
        assert "· 1 resolved ·" in str(final.blocks)
        assert final.text.startswith(f"{len(VMS)} VMs failed: {len(VMS)} `libvirt_tls`")
        case = await store.get_case(done.case_id)
        assert case is not None
        assert (
            case.thread_ts == parent.ts
        )  # a storm member lives in the incident thread
        notes = [m.text for m in slack.thread(OPS, parent.ts)]
        assert any("migration 77 cmp-dying-01 → cmp-ok-02" in t for t in notes), notes
    finally:
        await services.tasks.drain()
        await store.close()
