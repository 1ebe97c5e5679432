"""End to end: slash command -> real Bolt app -> REAL engine -> simulated region -> Slack stand-in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import RunningBot
from bot.settings import BotSettings
from bot.store import Store
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.scenario.load import load_scenario
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import Ack, FakeSlack, HttpReply, Message

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"
SCENARIO = "libvirt-tls-expired-cert"


def expected_root_cause() -> str | None:
    expect = load_scenario(SCENARIO).expect
    return expect.root_cause if expect else None


def all_text(msg: Message) -> str:
    return json.dumps(msg.blocks) + msg.text


@dataclass(frozen=True)
class Diagnosed:
    """The bot after ``/migrate-diag web-02`` was answered with the real engine."""

    bot: RunningBot
    store: Store
    parent: Message
    ack: Ack | HttpReply

    @property
    def case_id(self) -> str:
        return parent_case(self.parent)


@asynccontextmanager
async def diagnosed(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    *,
    first_post_throttled: bool = False,
) -> AsyncIterator[Diagnosed]:
    """The scenario's region, the real engine and bot; web-02 already diagnosed in OPS."""
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                if first_post_throttled:
                    fake.inject("chat.postMessage", status=429, retry_after=0, times=1)
                ack = await fake.slash(
                    "/migrate-diag", "web-02", user=OPERATOR, channel=OPS
                )
                await bot.services.tasks.drain()
                parents = fake.history(OPS)
                assert len(parents) == 1  # one parent, updated in place
                yield Diagnosed(bot=bot, store=store, parent=parents[0], ack=ack)
            finally:
                await bot.close()
                await store.close()


async def test_slash_command_to_verdict(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """One parent updates to the verdict; the thread has the failed steps and the card."""
    async with diagnosed(fake, pagerduty, tmp_path, first_post_throttled=True) as d:
        assert "Diagnosing" in str(d.ack.payload)  # type: ignore[union-attr]
        parent = d.parent
        assert parent.edits, "the parent was never updated live"
        run = (await d.store.latest_runs(d.case_id, limit=1))[0]
        verdict = run.diagnosis.verdict
        assert verdict == expected_root_cause()
        assert f"`{verdict}`" in all_text(parent)  # the parent ends on the verdict
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
        posted = {m.text.split()[1] for m in thread if m.text.startswith("Step ")}
        assert posted == {str(n) for n in detailed}
        assert expected_root_cause() == "libvirt_tls"
        # the injected 429 was retried and nothing was lost
        assert [c.status for c in fake.calls("chat.postMessage")].count(429) == 1


async def test_claim_button(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """Claim is recorded and shown on the parent, which keeps its checklist.

    A second claim by someone else is refused with who holds the case.
    """
    async with diagnosed(fake, pagerduty, tmp_path) as d:
        checklist = d.parent.blocks[2]["text"]["text"]
        assert "1. " in checklist
        assert "Resolving" not in checklist
        await fake.click(OPS, d.parent.ts, "diag.claim", user=OPERATOR)
        parent = await fake.wait_for(
            lambda: (
                (m := fake.message(OPS, d.parent.ts))
                and "is on it" in all_text(m)
                and m
            )
        )
        assert parent.blocks[2]["text"]["text"] == checklist  # the steps stay
        assert "diag.rerun" in all_text(parent)  # and the buttons
        await d.bot.services.tasks.drain()
        await fake.click(OPS, d.parent.ts, "diag.claim", user="U0OTHER01")
        refusal = await fake.wait_for(
            lambda: next(
                (e for e in fake.world.ephemeral if e["user"] == "U0OTHER01"), None
            )
        )
        assert f"<@{OPERATOR}> holds this case" in refusal["text"]
        await d.bot.services.tasks.drain()
        case = await d.store.get_case(d.case_id)
        assert case is not None
        assert case.claimed_by == OPERATOR


async def test_escalate_button(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """PagerDuty gets a valid trigger with the case's dedup key; on-call is mentioned.

    The event links the Slack thread and the runbook; a second Escalate pages nobody.
    """
    async with diagnosed(fake, pagerduty, tmp_path) as d:
        await fake.click(OPS, d.parent.ts, "diag.escalate", user=OPERATOR)
        await fake.wait_for(lambda: pagerduty.events)
        event = pagerduty.events[0]
        assert event["event_action"] == "trigger"
        assert event["dedup_key"] == f"migrate-diag:{d.case_id}"
        assert event["payload"]["severity"] in {"critical", "error", "warning", "info"}
        assert 0 < len(event["payload"]["summary"]) <= 1024
        handoff = await fake.wait_for(
            lambda: next(
                (
                    m
                    for m in fake.thread(OPS, d.parent.ts)
                    if "S0ONCALL1" in all_text(m)
                ),
                None,
            )
        )
        assert "<!subteam^S0ONCALL1>" in all_text(handoff)
        assert (await d.store.escalations(d.case_id))[0].user_id == OPERATOR
        links = {link["text"]: link["href"] for link in event["links"]}
        assert links["Slack thread"].endswith(f"/p{d.parent.ts.replace('.', '')}")
        assert links["Runbook"] == d.bot.services.settings.deployment.runbook_url
        await d.bot.services.tasks.drain()
        await fake.click(OPS, d.parent.ts, "diag.escalate", user="U0OTHER01")
        again = await fake.wait_for(
            lambda: next(
                (e for e in fake.world.ephemeral if e["user"] == "U0OTHER01"), None
            )
        )
        assert again["text"].startswith(f"Already escalated by <@{OPERATOR}> at ")
        await d.bot.services.tasks.drain()
        assert len(pagerduty.events) == 1  # one page
        handoffs = [
            m for m in fake.thread(OPS, d.parent.ts) if "S0ONCALL1" in all_text(m)
        ]
        assert len(handoffs) == 1  # one hand-off


async def test_show_evidence_button(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """The run's full report arrives as a file in the case's thread."""
    async with diagnosed(fake, pagerduty, tmp_path) as d:
        verdict = (await d.store.latest_runs(d.case_id, limit=1))[0].diagnosis.verdict
        await fake.click(OPS, d.parent.ts, "diag.show-evidence", user=OPERATOR)
        with_file = await fake.wait_for(
            lambda: next((m for m in fake.thread(OPS, d.parent.ts) if m.files), None)
        )
        assert f"-- {verdict}:".encode() in with_file.files[0]["content"]


async def test_rerun_button(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """Re-run: the same parent and thread, a second run, and a reply saying what changed."""
    async with diagnosed(fake, pagerduty, tmp_path) as d:
        replies_before = len(fake.thread(OPS, d.parent.ts))
        await fake.click(OPS, d.parent.ts, "diag.rerun", user=OPERATOR)
        await fake.wait_for(
            lambda: any("Re-run" in m.text for m in fake.thread(OPS, d.parent.ts))
        )
        await d.bot.services.tasks.drain()
        assert len(fake.history(OPS)) == 1
        assert len(fake.thread(OPS, d.parent.ts)) > replies_before
        changed = next(
            m for m in fake.thread(OPS, d.parent.ts) if m.text == "Re-run finished"
        )
        assert "Nothing changed" in all_text(changed)
        assert len(await d.store.latest_runs(d.case_id, limit=5)) == 2


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
