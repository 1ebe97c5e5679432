"""The real Bolt app against the Slack stand-in, with a scripted (non-engine) diagnoser."""

from __future__ import annotations

import json
from pathlib import Path

from bot.settings import AccessSettings
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, ScriptedDiagnoser, bot_settings, launch
from tests.fakeslack import Ack, FakeSlack, sign

OPERATOR = "U0OPER001"


async def test_unknown_vm_gets_ephemeral_answer_and_no_post(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """An unknown VM is answered privately through response_url; nothing is posted."""
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), ScriptedDiagnoser(), fake
    )
    try:
        ack = await fake.slash("/migrate-diag", "nope-vm", user=OPERATOR, channel=OPS)
        assert "nope-vm" in str(ack.payload)
        answer = await fake.wait_for(
            lambda: [b for uses in fake.responses.values() for b in uses]
        )
        assert "No VM matches" in answer[0]["text"]
        assert answer[0]["response_type"] == "ephemeral"
        assert fake.calls("chat.postMessage") == []
    finally:
        await bot.close()
        await store.close()


async def test_user_not_allowed_is_refused_and_nothing_runs(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A user outside the allowed users and groups gets an ephemeral refusal; no diagnosis runs."""
    diagnoser = ScriptedDiagnoser()
    settings = bot_settings(
        fake,
        tmp_path,
        pagerduty,
        access=AccessSettings(
            diagnose_users=("U0BOSS001",), diagnose_groups=("S0SRE0001",)
        ),
    )
    bot, store = await launch(settings, diagnoser, fake)
    try:
        ack = await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        # the refusal is the ack itself: no "Diagnosing…" is ever shown to this user
        assert isinstance(ack, Ack)
        assert ack.payload is not None
        assert "not allowed" in ack.payload["text"]
        assert "Diagnosing" not in ack.payload["text"]
        await bot.services.tasks.drain()
        assert [b for uses in fake.responses.values() for b in uses] == []
        assert diagnoser.calls == []
        assert fake.calls("chat.postMessage") == []
        # a member of the allowed user group may
        await fake.slash("/migrate-diag", "web-02", user="U0SRE0001", channel=OPS)
        await fake.wait_call("chat.postMessage")
        await bot.services.tasks.drain()
        assert len(diagnoser.calls) == 1
    finally:
        await bot.close()
        await store.close()


async def test_http_mode_bad_or_stale_signature_is_refused(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """In HTTP mode a bad or 301-s-old signature gets 401 and runs nothing; a good one is acked."""
    diagnoser = ScriptedDiagnoser()
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty, mode="http"), diagnoser, fake
    )
    try:
        import time
        from urllib.parse import urlencode

        body = urlencode(
            fake.slash_payload("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        )
        bad = await fake.post_signed(body, signature="v0=" + "0" * 64)
        old = int(time.time()) - 301
        stale = await fake.post_signed(
            body, timestamp=old, signature=sign(fake.signing_secret, body, old)
        )
        assert (bad.status, stale.status) == (401, 401)
        # Bolt's request verification refused them, not a later failure
        assert (
            json.loads(bad.body)
            == json.loads(stale.body)
            == {"error": "invalid request"}
        )
        assert diagnoser.calls == []
        good = await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        assert good.status == 200
        assert "Diagnosing" in good.body
        await fake.wait_call("chat.postMessage")
        await bot.services.tasks.drain()
        assert len(diagnoser.calls) == 1
    finally:
        await bot.close()
        await store.close()


async def test_socket_mode_reconnects_after_disconnect(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A server-sent disconnect makes the bot open a new connection and keep answering."""
    bot, store = await launch(
        bot_settings(fake, tmp_path, pagerduty), ScriptedDiagnoser(), fake
    )
    try:
        await fake.socket.disconnect_all("refresh_requested")
        await fake.wait_for(
            lambda: len([c for c in fake.calls("apps.connections.open") if c.ok]) >= 2
        )
        ack = await fake.slash("/migrate-diag", "help", user=OPERATOR, channel=OPS)
        assert "Usage" in str(ack.payload)
    finally:
        await bot.close()
        await store.close()
