"""Retry to H, end to end: check H in the thread, the button, confirm, the move on the sim.

Real engine, the sim over HTTP (the move runs there; the bot's watch and the poller see it), the
Slack stand-in. Unauthorised clicks change nothing; a double click moves the VM once; a
click after the state changed is refused with the reason; every outcome is audited.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.actions.retry import RETRY, offered
from bot.cases.resolution import CaseResolver
from bot.intake.poller import SdkMigrationLister
from bot.intake.successes import SuccessPoller
from bot.posting.resolution import SlackResolutionPoster
from bot.settings import AccessSettings, ActionsSettings, BotSettings, WatchSettings
from bot.store.fix_repo import fixes
from bot.store.intake_repo import IntakeRepo
from bot.store.resolution_repo import resolution_of
from bot.store.timeline_repo import timeline
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.bot.support import (
    PagerDutyEndpoint,
    bot_settings,
    launch,
    scripted_diagnosis,
)
from tests.fakeslack import BOT_USER_ID, FakeSlack, Message

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"
STRANGER = "U0STRANGE"
SCENARIO = "libvirt-tls-expired-cert"
HEALTHY = "cmp-a-03"


def text_of(msg: Message) -> str:
    return json.dumps(msg.blocks, ensure_ascii=False) + msg.text


def has_retry(msg: Message) -> bool:
    return f'"action_id": "{RETRY}"' in json.dumps(msg.blocks)


def test_retry_is_off_by_default_and_needs_a_host_that_passed() -> None:
    healthy = replace(
        scripted_diagnosis("web-02", failing_step=1), target_host="cmp-a-03"
    )
    passed = replace(healthy, root_cause=None)
    assert not offered(
        BotSettings(actions=ActionsSettings(enabled=True, cloud="x")),
        replace(passed, target_host=None),  # not a --target-host evaluation
    )
    on = BotSettings(actions=ActionsSettings(enabled=True, cloud="ops-admin"))
    assert not offered(BotSettings(), passed)  # off by default
    assert not offered(BotSettings(actions=ActionsSettings(enabled=True)), passed)
    assert not offered(on, healthy)  # H did not pass: a verdict stands
    assert offered(on, passed)


def test_retry_is_offered_beside_the_earlier_failures_cause_on_its_own_destination() -> (
    None
):
    """H's steps passed and the only cause named is the earlier failure's, about its own
    destination cmp-a-02: Retry to H is offered. A cause about H, or about the VM itself
    (no host), or about cmp-a-02 when H is cmp-a-02, is not."""
    on = BotSettings(actions=ActionsSettings(enabled=True, cloud="ops-admin"))
    d = replace(scripted_diagnosis("web-02", failing_step=0), target_host="cmp-a-03")
    assert d.root_cause is not None
    about = lambda host: replace(d, root_cause=replace(d.root_cause, about_host=host))  # noqa: E731
    assert offered(on, about("cmp-a-02"))
    assert not offered(on, about("cmp-a-03"))
    assert not offered(on, about(None))
    assert not offered(on, replace(about("cmp-a-02"), target_host="cmp-a-02"))


async def test_retry_to_a_checked_host(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(
            fake,
            tmp_path,
            pagerduty,
            base=base,
            access=AccessSettings(fix_users=(OPERATOR,)),
            actions=ActionsSettings(
                enabled=True,
                cloud="sim",
                watch=WatchSettings(first_poll_s=0.05, max_poll_s=0.2),
            ),
        )
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]

                async def ask(text: str) -> Message:
                    await fake.mention(OPS, parent.ts, text, user=OPERATOR)
                    await bot.services.tasks.drain()
                    return [
                        m for m in fake.thread(OPS, parent.ts) if m.user == BOT_USER_ID
                    ][-1]

                failing = await ask("check cmp-a-02")
                assert "libvirt_tls" in failing.text
                assert not has_retry(failing)  # not offered for a host that failed
                first = await ask(f"check {HEALTHY}")
                assert has_retry(first)
                confirm = json.dumps(first.blocks)
                assert f"Retry to {HEALTHY}" in confirm
                assert "os-migrateLive" in confirm
                assert '\\"block_migration\\": \\"auto\\"' in confirm
                second = await ask(f"check {HEALTHY}")  # a second button, its own token
                moves = len(region.state.migrations)

                await fake.click(OPS, first.ts, RETRY, user=STRANGER)
                await bot.services.tasks.drain()
                refusal = next(e for e in fake.world.ephemeral if e["user"] == STRANGER)
                assert "Nothing was run" in refusal["text"]
                assert len(region.state.migrations) == moves
                assert await fixes(store, case_id) == []

                # a double click: two deliveries of the same button, one move
                await fake.click(OPS, first.ts, RETRY, user=OPERATOR)
                await fake.click(OPS, first.ts, RETRY, user=OPERATOR)
                await bot.services.tasks.drain()
                await bot.services.watches.drain()
                await region.wait_idle()
                new = region.state.migrations[moves:]
                assert [(m.dest_compute, m.status) for m in new] == [
                    (HEALTHY, "completed")
                ]
                said = [
                    e["text"] for e in fake.world.ephemeral if e["user"] == OPERATOR
                ]
                assert any(t.startswith(f"Already run by <@{OPERATOR}>") for t in said)
                (audit,) = await fixes(store, case_id)
                assert audit.status == "accepted"
                assert audit.user_id == OPERATOR
                assert audit.request_id
                assert audit.request_id.startswith("req-")
                ran = next(
                    m for m in fake.thread(OPS, parent.ts) if m.text.startswith("🛠")
                )
                assert f"live-migrate web-02 to {HEALTHY}: accepted" in ran.text
                assert audit.request_id in ran.text

                # the bot's watch saw the move succeed (tests/bot/test_e2e_watch.py); the
                # poller seeing it too changes nothing: resolved, green, naming it
                lister = SdkMigrationLister(
                    OpenStackApi.from_settings(settings.openstack).conn
                )
                resolver = CaseResolver(store, SlackResolutionPoster(bot.poster))
                assert await SuccessPoller(
                    lister, resolver, IntakeRepo(store)
                ).poll_once()
                await bot.services.tasks.drain()
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.migration_id == str(new[0].id)
                assert f"migration {new[0].id} cmp-a-01 → {HEALTHY}" in text_of(
                    fake.message(OPS, parent.ts)
                )

                # the other button, after the state changed: refused with the reason
                await fake.click(OPS, second.ts, RETRY, user=OPERATOR)
                await bot.services.tasks.drain()
                assert len(region.state.migrations) == moves + 1
                said = [
                    e["text"] for e in fake.world.ephemeral if e["user"] == OPERATOR
                ]
                assert said[-1] == "Not run: the case is resolved."
                statuses = [a.status for a in await fixes(store, case_id)]
                assert statuses == ["accepted", "refused"]
                kinds = [e.kind for e in await timeline(store, case_id)]
                assert kinds.count("fix") == 2
            finally:
                await bot.close()
                await store.close()
