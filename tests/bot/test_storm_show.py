"""One storm member on demand through the real Bolt app: the group reply's select and
``@migrate-diag show <vm>`` in the thread (Socket Mode, the Slack stand-in)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from bot.app import RunningBot
from bot.posting.storm import SHOW_VM
from bot.store import Store
from diagnostics.model import MigrationRef
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.bot.test_storm_board import CauseDiagnoser
from tests.fakeslack import BOT_USER_ID, FakeSlack

OPERATOR = "U0OPER001"
VMS = {"web-07": "libvirt_tls", "web-08": "libvirt_tls", "db-01": "port_binding"}


async def _storm(bot: RunningBot) -> str:
    """An incident parent with three members diagnosed into two groups."""
    poster = bot.poster
    parent = await poster.writer.post(OPS, None, "storm")
    for n, vm in enumerate(VMS):
        await poster.post_case(
            f"case-{n}", MigrationRef(server=vm), OPS, thread_ts=parent
        )
    await poster.storms.flush(OPS, parent)
    return parent


def _mention(text: str, thread_ts: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": OPERATOR,
        "text": text,
        "ts": f"{time.time():.6f}",
        "channel": OPS,
        "event_ts": f"{time.time():.6f}",
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return {
        "token": "deprecated-verification-token",
        "team_id": "T0FAKE001",
        "api_app_id": "A0FAKE001",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
    }


async def _settle(bot: RunningBot, parent: str) -> None:
    await bot.services.tasks.drain()
    await bot.poster.writer.flush(OPS, parent)


async def test_show_vm_in_the_thread_posts_its_own_diagnosis(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), CauseDiagnoser(VMS), fake
    )
    try:
        parent = await _storm(bot)
        before = len(fake.thread(OPS, parent))
        assert before == 2  # two causes, two replies; no VM posted on its own
        await fake.socket.push(
            "events_api", _mention(f"<@{BOT_USER_ID}> show web-08", parent)
        )
        await _settle(bot, parent)
        case = await _case_of(store, parent, "web-08")
        assert case.parent_ts is not None
        thread = fake.thread(OPS, parent)
        own = fake.message(OPS, case.parent_ts)
        assert "web-08" in own.text
        # its parent, its failed step and its card, after the group replies
        assert len(thread) == before + 3
        assert thread[-1].text.startswith("Root cause")
        # asking again does not post it twice; the answer says so
        await fake.socket.push(
            "events_api", _mention(f"<@{BOT_USER_ID}> show web-08", parent)
        )
        await _settle(bot, parent)
        again = fake.thread(OPS, parent)
        assert len(again) == before + 4
        assert again[-1].text == "web-08 is already shown in this thread."
    finally:
        await bot.close()
        await store.close()


async def test_the_group_select_shows_the_picked_vm(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), CauseDiagnoser(VMS), fake
    )
    try:
        parent = await _storm(bot)
        reply = next(m for m in fake.thread(OPS, parent) if m.text.startswith("1 VM"))
        payload = fake.click_payload(OPS, reply.ts, SHOW_VM, user=OPERATOR)
        picked = await _case_of(store, parent, "db-01")
        payload["actions"][0]["selected_option"] = {
            "text": {"type": "plain_text", "text": "db-01"},
            "value": picked.id,
        }
        ack = await fake.socket.push("interactive", payload)
        assert ack.latency_s < 3.0
        await _settle(bot, parent)
        shown = await _case_of(store, parent, "db-01")
        assert shown.parent_ts is not None
        assert "db-01" in fake.message(OPS, shown.parent_ts).text
    finally:
        await bot.close()
        await store.close()


async def test_show_of_an_unknown_or_missing_vm_says_why(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), CauseDiagnoser(VMS), fake
    )
    try:
        parent = await _storm(bot)
        before = len(fake.thread(OPS, parent))
        await fake.socket.push(
            "events_api", _mention(f"<@{BOT_USER_ID}> show no-such-vm", parent)
        )
        await _settle(bot, parent)
        await fake.socket.push("events_api", _mention(f"<@{BOT_USER_ID}> show", parent))
        await _settle(bot, parent)
        answers = [m.text for m in fake.thread(OPS, parent)[before:]]
        assert answers == [
            "No VM `no-such-vm` in this storm's thread.",
            "In a storm's thread, name one VM: "
            "`show <vm>` — in a storm's thread, one VM's diagnosis",
        ]
        for case_id in ("case-0", "case-1", "case-2"):
            case = await store.get_case(case_id)
            assert case is not None
            assert case.parent_ts is None  # nobody was shown
    finally:
        await bot.close()
        await store.close()


async def _case_of(store: Store, parent: str, vm: str) -> Any:
    case = await store.find_in_thread(OPS, parent, vm)
    assert case is not None, vm
    return case
