"""Slack delivery that never gets stuck, against the Slack stand-in (issue 10).

5xx retried with bounded backoff, a channel the bot cannot post in ends at once with the
reason, and concurrent cases in one channel at Slack's real 1 message/s stay in order
with nobody told "ratelimited".
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.history import format_rows
from bot.pacing import ChannelPacer
from bot.store import CaseState, Store
from bot.store.history import history
from bot.store.models import CaseRow
from bot.times import utcnow
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, ScriptedDiagnoser, bot_settings, launch
from tests.fakeslack import FakeSlack, Message

OPERATOR = "U0OPER001"


def all_text(msg: Message) -> str:
    return json.dumps(msg.blocks) + msg.text


def is_final(msg: Message) -> bool:
    """The parent shows a verdict or a failure, and its buttons."""
    return "diag.rerun" in all_text(msg) and "Diagnosing" not in all_text(msg)


async def test_two_500s_on_chat_update_still_reach_the_final_parent(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """chat.update answers two 500s (HTML, as Slack's edge does): retried, the parent ends final."""
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), ScriptedDiagnoser(), fake
    )
    try:
        fake.inject("chat.update", status=500, times=2)
        await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        await bot.services.tasks.drain()
        [parent] = fake.history(OPS)
        assert is_final(parent)
        assert "`libvirt_tls`" in all_text(parent)
        statuses = [c.status for c in fake.calls("chat.update")]
        assert statuses[:2] == [500, 500]
        assert statuses[-1] == 200
        thread = [m.text for m in fake.thread(OPS, parent.ts)]
        assert not any("would not update" in t for t in thread)  # it did, after retries
    finally:
        await bot.close()
        await store.close()


async def test_5xx_that_never_ends_gives_up_bounded_and_says_so(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A thread reply Slack keeps refusing: bounded attempts, one log line, named on the parent."""
    settings = bot_settings(fake, tmp_path, pagerduty)
    bot, store = await launch(settings, ScriptedDiagnoser(), fake)
    try:
        await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        await fake.wait_call("chat.postMessage")  # the parent is in
        fake.inject("chat.postMessage", status=503, times=1000)
        with caplog.at_level(logging.WARNING, logger="bot.posting.writer"):
            await bot.services.tasks.drain()
        [parent] = fake.history(OPS)
        assert is_final(parent)
        assert "could not be posted (http 503)" in all_text(parent)
        failed = [c for c in fake.calls("chat.postMessage") if c.status == 503]
        # two replies (step 7 and the card), each tried 1 + retries times, never more
        assert len(failed) == 2 * (1 + settings.slack.retries)
        gave_up = [r for r in caplog.records if "gave up" in r.getMessage()]
        assert len(gave_up) == 2  # once per reply, not once per attempt
        assert all("Traceback" not in r.getMessage() for r in caplog.records)
    finally:
        await bot.close()
        await store.close()


async def test_channel_not_found_ends_at_once_with_the_reason(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unknown channel: one attempt, one log line, the user told why; nothing loops."""
    diagnoser = ScriptedDiagnoser()
    bot, store = await launch(bot_settings(fake, tmp_path, pagerduty), diagnoser, fake)
    try:
        with caplog.at_level(logging.INFO):
            await fake.slash(
                "/migrate-diag", "web-02", user=OPERATOR, channel="C0GONE001"
            )
            answer = await fake.wait_for(
                lambda: [b for uses in fake.responses.values() for b in uses]
            )
            await bot.services.tasks.drain()
        assert answer[0]["text"] == (
            "I cannot post in this channel (channel_not_found). Invite me, then try again."
        )
        assert answer[0]["replace_original"] is True  # it replaces "Diagnosing…"
        assert len(fake.calls("chat.postMessage")) == 1  # permanent: never retried
        lines = [r for r in caplog.records if "channel_not_found" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].exc_info is None  # a clear line, not a traceback
        assert len(diagnoser.calls) == 1
        async with store.sessions() as session:
            [row] = (await session.scalars(select(CaseRow))).all()
        # a terminal state with the reason, not a lease left to be re-run forever
        assert (row.state, row.state_reason) == ("undeliverable", "channel_not_found")
        [line] = format_rows(await history(store)).splitlines()[1:]
        assert "undeliverable" in line  # the audit trail says how it ended
    finally:
        await bot.close()
        await store.close()


async def test_five_concurrent_cases_at_one_message_per_second(
    pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """5 slash commands at once, Slack at 1 msg/s burst 1: 5 complete threads, in order.

    Nobody is told "ratelimited"; the pacer keeps every post under the limit (no 429).
    Takes ~15 s: 15 posts at Slack's real rate.
    """
    fake = FakeSlack(post_rate_per_s=1.0, post_burst=1)
    fake.world.add_channel(OPS, "ops")
    await fake.start()
    try:
        settings = bot_settings(fake, tmp_path, pagerduty)
        pacer = ChannelPacer(
            rate_per_s=settings.slack.post_rate_per_s, burst=settings.slack.post_burst
        )
        users = [f"U0USER{n:03d}" for n in range(5)]
        bot, store = await launch(settings, ScriptedDiagnoser(), fake, pacer=pacer)
        try:
            await asyncio.gather(
                *(
                    fake.slash("/migrate-diag", "web-02", user=u, channel=OPS)
                    for u in users
                )
            )
            await bot.services.tasks.drain()
            parents = fake.history(OPS)
            assert len(parents) == 5
            for parent in parents:
                assert is_final(parent)
                texts = [m.text for m in fake.thread(OPS, parent.ts)]
                assert len(texts) == 2
                assert texts[0].startswith("Step 7 ")
                assert texts[1].startswith("Root cause: libvirt_tls")
            told = [b["text"] for uses in fake.responses.values() for b in uses]
            assert not any("ratelimited" in t for t in told)
            assert [c for c in fake.calls() if c.status == 429] == []
        finally:
            await bot.close()
            await store.close()
    finally:
        await fake.stop()
    assert fake.rejected_calls() == []


async def test_pagerduty_429_and_5xx_are_retried_then_accepted(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """PagerDuty answers 429 then 502: retried with backoff, the third try pages once."""
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), ScriptedDiagnoser(), fake
    )
    try:
        await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        await bot.services.tasks.drain()
        [parent] = fake.history(OPS)
        pagerduty.failures = [429, 502]
        await fake.click(OPS, parent.ts, "diag.escalate", user=OPERATOR)
        await fake.wait_for(lambda: pagerduty.events)
        await bot.services.tasks.drain()
        assert pagerduty.requests == 3
        assert len(pagerduty.events) == 1
        [record] = await store.escalations(
            next(
                e["value"]
                for b in parent.blocks
                for e in b.get("elements", [])
                if e.get("action_id") == "diag.claim"
            )
        )
        assert record.status == "accepted"
    finally:
        await bot.close()
        await store.close()


async def test_pagerduty_400_is_not_retried(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A 400 is a bad event: one request, the hand-off says what PagerDuty answered."""
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), ScriptedDiagnoser(), fake
    )
    try:
        await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        await bot.services.tasks.drain()
        [parent] = fake.history(OPS)
        pagerduty.failures = [400]
        await fake.click(OPS, parent.ts, "diag.escalate", user=OPERATOR)
        handoff = await fake.wait_for(
            lambda: next(
                (m for m in fake.thread(OPS, parent.ts) if "PagerDuty" in all_text(m)),
                None,
            )
        )
        assert "http 400" in all_text(handoff)
        assert pagerduty.requests == 1
    finally:
        await bot.close()
        await store.close()


async def test_a_dead_process_case_whose_vm_is_gone_ends_final_with_rerun(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A dead process's case is re-run; the VM is gone now: the parent says why, with buttons."""
    settings = bot_settings(fake, tmp_path, pagerduty)
    store = await Store.open(settings.store.url)
    try:
        parent = await fake.post_as_bot(OPS, "Diagnosing VM migration of web-gone…")
        case = await store.create_case(vm_name="web-gone", channel=OPS, source="slash")
        await store.set_parent(case.id, channel=OPS, parent_ts=parent)
        long_ago = utcnow() - timedelta(minutes=5)
        await store.start_diagnosing(case.id, owner="bot-dead", until=long_ago)
    finally:
        await store.close()
    bot, store = await launch(settings, ScriptedDiagnoser(), fake)
    try:
        final = await fake.wait_for(
            lambda: is_final(m := fake.message(OPS, parent)) and m
        )
        assert "The diagnosis could not finish" in all_text(final)
        assert "web-gone" in all_text(final)
        await bot.services.tasks.drain()
        record = await store.get_case(case.id)
        assert record is not None
        assert record.state is CaseState.FAILED
        assert "web-gone" in (record.state_reason or "")
    finally:
        await bot.close()
        await store.close()


async def test_a_parent_slack_will_not_update_is_named_in_the_thread(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """chat.update fails for good: bounded tries, and the thread says the parent is stale."""
    settings = bot_settings(fake, tmp_path, pagerduty)
    bot, store = await launch(settings, ScriptedDiagnoser(), fake)
    try:
        fake.inject("chat.update", status=503, times=10**6)
        await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        await bot.services.tasks.drain()
        [parent] = fake.history(OPS)
        texts = [m.text for m in fake.thread(OPS, parent.ts)]
        assert texts[-2].startswith("Root cause: libvirt_tls")
        assert texts[-1].startswith("⚠️ Slack would not update this case's parent")
        updates = fake.calls("chat.update")
        assert updates  # tried
        # each update is tried 1 + retries times; the live updates are coalesced
        assert len(updates) % (1 + settings.slack.retries) == 0
    finally:
        await bot.close()
        await store.close()
