"""A report for a VM that no longer exists, through the real engine against the sim and
the real Slack poster against the Slack stand-in: one terminal state, one message, a
handful of API calls (counted at the sim), and nothing more however long the runner runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import build_client, build_services
from bot.cases.manager import CaseManager
from bot.cases.report import FailureReport, ReportSource
from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.settings import BotSettings, IntakeSettings, SlackSettings
from bot.store.repo import Store
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.bot.support import ScriptedDiagnoser
from tests.fakeslack.server import FakeSlack

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

SCENARIO = "libvirt-tls-expired-cert"
GONE = "0dead0ff-0000-4000-8000-000000000000"
OPS = "C-OPS"
VM = "web-02"  # a name the scripted diagnoser knows


async def test_a_deleted_vm_ends_in_one_terminal_state_with_one_message(
    tmp_path: Path,
) -> None:
    slack = FakeSlack()
    await slack.start()
    slack.world.add_channel(OPS, "ops")
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = base.model_copy(
            update={
                "slack": SlackSettings(
                    api_base_url=slack.api_url,
                    default_channel=OPS,
                    update_interval_s=0,
                    retry_backoff_s=0.01,
                ),
                "intake": IntakeSettings.model_validate(
                    {"storms": {"group_wait_s": 0}, "retry_base_s": 0.01}
                ),
            }
        )
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
        async with open_engine(settings) as engine:
            client = build_client(settings, SecretStr("xoxb-test"))
            services = build_services(
                settings, diagnoser=engine, store=store, client=client, routing_key=None
            )
            cases = CaseManager(
                settings,
                store,
                SlackCasePoster(client, services),
                SlackIncidentPoster(client, services.pacer),
            )
            claim = await cases.submit(
                FailureReport(
                    source=ReportSource.WEBHOOK,
                    instance_uuid=GONE,
                    request_id="req-gone",
                    source_host="cmp-a-01",
                )
            )
            before = len(region.requests)
            assert await cases.dispatch_due() == 0
            calls = region.requests[before:]
            for _ in range(20):  # the runner keeps running: nothing is tried again
                assert await cases.dispatch_due() == 0
            assert region.requests[before:] == calls
            status, reason, attempts = await cases.intake.outcome(claim.case_id)
            assert (status, attempts) == ("failed", 1)
            assert reason is not None
            assert "the VM no longer exists" in reason
            messages = slack.world.history(OPS)
            assert len(messages) == 1
            assert GONE in messages[0].text
            assert "no longer exists" in messages[0].text
            # by id, then by name; the rest is the engine's one-time discovery and token
            lookups = [call for call in calls if "/servers" in call]
            assert len(lookups) == 2, calls
            assert len(calls) <= 10, calls
            log.info("deleted VM: %d API calls: %s", len(calls), calls)
        await store.close()
    await slack.stop()


async def test_a_channel_the_bot_cannot_post_in_ends_the_case(tmp_path: Path) -> None:
    """The route points at a channel Slack does not know: the case ends with Slack's reason
    after the client's bounded tries, and later dispatches never try it again."""
    slack = FakeSlack()
    await slack.start()
    settings = BotSettings.model_validate(
        {
            "slack": {
                "api_base_url": slack.api_url,
                "default_channel": "C-GONE",
                "update_interval_s": 0,
                "retry_backoff_s": 0.01,
            },
            "intake": {"storms": {"group_wait_s": 0}},
        }
    )
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
    client = build_client(settings, SecretStr("xoxb-test"))
    services = build_services(
        settings,
        diagnoser=ScriptedDiagnoser(known={VM}),
        store=store,
        client=client,
        routing_key=None,
    )
    cases = CaseManager(
        settings,
        store,
        SlackCasePoster(client, services),
        SlackIncidentPoster(client, services.pacer),
    )
    try:
        claim = await cases.submit(
            FailureReport(source=ReportSource.WEBHOOK, instance_uuid=VM, request_id="r")
        )
        assert await cases.dispatch_due() == 0
        tries = len(slack.calls("chat.postMessage"))
        for _ in range(20):
            assert await cases.dispatch_due() == 0
        assert len(slack.calls("chat.postMessage")) == tries
        assert 1 <= tries <= settings.slack.retries + 1
        assert await cases.intake.outcome(claim.case_id) == (
            "failed",
            "Slack refused the post (channel_not_found)",
            1,
        )
    finally:
        await store.close()
        await slack.stop()


async def test_refused_credentials_end_the_case_with_the_reason_posted_once(
    tmp_path: Path,
) -> None:
    """Keystone refuses the bot's password (and every token it holds): the automatic case
    ends `failed` with a reason naming the refusal, one message in the channel, and the
    runner never tries it again (no more logins, no more API calls)."""
    slack = FakeSlack()
    await slack.start()
    slack.world.add_channel(OPS, "ops")
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = base.model_copy(
            update={
                "openstack": base.openstack.model_copy(update={"token_cache": False}),
                "slack": SlackSettings(
                    api_base_url=slack.api_url,
                    default_channel=OPS,
                    update_interval_s=0,
                    retry_backoff_s=0.01,
                ),
                "intake": IntakeSettings.model_validate(
                    {"storms": {"group_wait_s": 0}, "retry_base_s": 0.01}
                ),
            }
        )
        vm_id = next(s["id"] for s in region.state.servers.values() if s["name"] == VM)
        await region.set_fault("keystone", "401")
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
        async with open_engine(settings) as engine:
            client = build_client(settings, SecretStr("xoxb-test"))
            services = build_services(
                settings, diagnoser=engine, store=store, client=client, routing_key=None
            )
            cases = CaseManager(
                settings,
                store,
                SlackCasePoster(client, services),
                SlackIncidentPoster(client, services.pacer),
            )
            claim = await cases.submit(
                FailureReport(
                    source=ReportSource.WEBHOOK,
                    instance_uuid=vm_id,
                    request_id="req-refused",
                    source_host="cmp-a-01",
                )
            )
            before = len(region.requests)
            assert await cases.dispatch_due() == 0
            calls = region.requests[before:]
            for _ in range(20):  # the runner keeps running: nothing is tried again
                assert await cases.dispatch_due() == 0
            assert region.requests[before:] == calls
            status, reason, attempts = await cases.intake.outcome(claim.case_id)
            messages = slack.world.history(OPS)
        await store.close()
    await slack.stop()
    assert (status, attempts) == ("failed", 1)
    assert reason is not None
    assert reason.startswith(
        "the cloud refused the bot: Keystone refused the credentials"
    )
    assert len(messages) == 1
    assert "refused the credentials" in messages[0].text
    assert sum(1 for c in calls if c.startswith("POST /identity")) <= 8, calls
