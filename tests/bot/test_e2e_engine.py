"""End to end: slash command -> real Bolt app -> REAL engine -> simulated region -> Slack stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.settings import BotSettings
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.scenario.load import load_scenario
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import FakeSlack, Message

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"
SCENARIO = "libvirt-tls-expired-cert"


def expected_root_cause() -> str | None:
    expect = load_scenario(SCENARIO).expect
    return expect.root_cause if expect else None


def all_text(msg: Message) -> str:
    return json.dumps(msg.blocks) + msg.text


async def test_slash_command_to_verdict_and_every_button(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """One parent updates to the verdict; the thread has the failed step and root-cause card; buttons work."""
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                fake.inject("chat.postMessage", status=429, retry_after=0, times=1)
                ack = await fake.slash(
                    "/migrate-diag", "web-02", user=OPERATOR, channel=OPS
                )
                assert "Diagnosing" in str(ack.payload)
                await bot.services.tasks.drain()

                parents = fake.history(OPS)
                assert len(parents) == 1  # one parent, updated in place
                parent = parents[0]
                assert parent.edits, "the parent was never updated live"
                run = (await store.latest_runs(parent_case(parent), limit=1))[0]
                verdict = run.diagnosis.verdict
                assert verdict == expected_root_cause()
                assert f"`{verdict}`" in all_text(
                    parent
                )  # the parent ends on the verdict
                thread = fake.thread(OPS, parent.ts)
                card = next(m for m in thread if "Root cause" in m.text)
                assert f"`{verdict}`" in all_text(card)
                assert run.diagnosis.root_cause is not None
                assert run.diagnosis.root_cause.confidence.value in all_text(card)
                detailed = {
                    s.number
                    for s in run.diagnosis.steps
                    if s.status.value in {"failed", "warning", "error"}
                }
                posted = {
                    m.text.split()[1] for m in thread if m.text.startswith("Step ")
                }
                assert posted == {str(n) for n in detailed}
                assert expected_root_cause() == "libvirt_tls"
                # the injected 429 was retried and nothing was lost
                assert [c.status for c in fake.calls("chat.postMessage")].count(
                    429
                ) == 1

                # Claim: recorded and shown on the parent
                await fake.click(OPS, parent.ts, "diag.claim", user=OPERATOR)
                await fake.wait_for(
                    lambda: "is on it" in all_text(fake.message(OPS, parent.ts))
                )
                assert (
                    await store.get_case(parent_case(parent))
                ).claimed_by == OPERATOR  # type: ignore[union-attr]

                # Escalate: PagerDuty gets a valid trigger with the case's dedup key
                await fake.click(OPS, parent.ts, "diag.escalate", user=OPERATOR)
                await fake.wait_for(lambda: pagerduty.events)
                event = pagerduty.events[0]
                assert event["event_action"] == "trigger"
                assert event["dedup_key"] == f"migrate-diag:{parent_case(parent)}"
                assert event["payload"]["severity"] in {
                    "critical",
                    "error",
                    "warning",
                    "info",
                }
                assert 0 < len(event["payload"]["summary"]) <= 1024
                handoff = await fake.wait_for(
                    lambda: next(
                        (
                            m
                            for m in fake.thread(OPS, parent.ts)
                            if "S0ONCALL1" in all_text(m)
                        ),
                        None,
                    )
                )
                assert "<!subteam^S0ONCALL1>" in all_text(handoff)
                assert (await store.escalations(parent_case(parent)))[
                    0
                ].user_id == OPERATOR

                # Show evidence: a file in the thread
                await fake.click(OPS, parent.ts, "diag.show-evidence", user=OPERATOR)
                with_file = await fake.wait_for(
                    lambda: next(
                        (m for m in fake.thread(OPS, parent.ts) if m.files), None
                    )
                )
                assert f"-- {verdict}:".encode() in with_file.files[0]["content"]

                # Re-run: same parent, same thread, says what changed
                replies_before = len(fake.thread(OPS, parent.ts))
                await fake.click(OPS, parent.ts, "diag.rerun", user=OPERATOR)
                await fake.wait_for(
                    lambda: any("Re-run" in m.text for m in fake.thread(OPS, parent.ts))
                )
                await bot.services.tasks.drain()
                assert len(fake.history(OPS)) == 1
                assert len(fake.thread(OPS, parent.ts)) > replies_before
                changed = next(
                    m
                    for m in fake.thread(OPS, parent.ts)
                    if m.text == "Re-run finished"
                )
                assert "Nothing changed" in all_text(changed)
                assert len(await store.latest_runs(parent_case(parent), limit=5)) == 2
            finally:
                await bot.close()
                await store.close()


def parent_case(parent: Message) -> str:
    for block in parent.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == "diag.claim":
                return str(element["value"])
    raise AssertionError("no claim button on the parent")


async def test_root_cause_card_names_the_scenarios_cause(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """The root-cause card of the expired-certificate scenario names libvirt_tls."""
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                parent = fake.history(OPS)[0]
                card = next(
                    m for m in fake.thread(OPS, parent.ts) if "Root cause" in m.text
                )
                assert f"`{expected_root_cause()}`" in all_text(card)
            finally:
                await bot.close()
                await store.close()
