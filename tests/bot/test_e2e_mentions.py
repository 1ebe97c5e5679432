"""`@migrate-diag` in a case thread, end to end (real engine, the sim, the Slack stand-in).

Each command answers in the thread; `summary` holds the timeline; an unknown word lists
the commands; a refused user changes nothing; a host name is validated before any check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.settings import AccessSettings, BotSettings
from bot.store.resolution_repo import resolution_of
from bot.timeline import print_timeline
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import BOT_USER_ID, FakeSlack, Message

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"
STRANGER = "U0STRANGE"
SCENARIO = "libvirt-tls-expired-cert"


def text_of(msg: Message) -> str:
    return json.dumps(msg.blocks, ensure_ascii=False) + msg.text


async def test_thread_commands(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(
            fake,
            tmp_path,
            pagerduty,
            base=base,
            access=AccessSettings(resolve_users=(OPERATOR,)),
        )
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]

                async def ask(text: str, user: str = OPERATOR) -> list[Message]:
                    """Mention the bot in the case thread; the replies it added."""
                    before = len(fake.thread(OPS, parent.ts))
                    await fake.mention(OPS, parent.ts, text, user=user)
                    await bot.services.tasks.drain()
                    added = fake.thread(OPS, parent.ts)[before:]
                    return [m for m in added if m.user == BOT_USER_ID]

                (status,) = await ask("status")
                assert "`libvirt_tls`" in text_of(status)
                assert "nobody has claimed it" in text_of(status)

                (unknown,) = await ask("frobnicate now")
                for usage in (
                    "check <host>",
                    "rerun",
                    "status",
                    "summary",
                    "resolve <reason>",
                ):
                    assert f"`{usage}`" in unknown.text
                assert "`frobnicate`" in unknown.text

                (bad_host,) = await ask("check cmp-a-03;reboot")
                assert bad_host.text.startswith("Name one compute host")
                (dash,) = await ask("check -oProxyCommand=x")
                assert dash.text.startswith("Name one compute host")

                checking, checked = await ask("check cmp-a-03")
                assert "Checking whether `cmp-a-03`" in checking.text
                assert (
                    "Checked `cmp-a-03` as the destination of `web-02`" in checked.text
                )
                assert "1. " in checked.text  # the steps, as the engine found them
                # the failed move's TLS errors were about cmp-a-02; cmp-a-03 is healthy
                assert "libvirt_tls" not in checked.text
                assert "✅ 7. " in checked.text
                _, bad = await ask("check cmp-a-02")
                assert "❌ `libvirt_tls`" in bad.text
                assert "qemu+tls://cmp-a-02/system" in bad.text

                # the stranger may look, but not resolve: refused privately, nothing changes
                assert await ask("resolve not mine", user=STRANGER) == []
                refusal = next(e for e in fake.world.ephemeral if e["user"] == STRANGER)
                assert "not allowed to resolve" in refusal["text"]
                assert await resolution_of(store, case_id) is None

                (why,) = await ask("resolve")
                assert why.text.startswith("Say why")
                await fake.click(OPS, parent.ts, "diag.claim", user=OPERATOR)
                await bot.services.tasks.drain()
                (resolved,) = await ask("resolve moved by hand to cmp-a-03")
                assert "moved by hand to cmp-a-03" in resolved.text
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.resolved
                assert "Resolved" in text_of(fake.message(OPS, parent.ts))

                # rerun on a resolved case says so (privately) and runs nothing
                runs = len(await store.latest_runs(case_id, limit=10))
                await ask("rerun")
                said = [e for e in fake.world.ephemeral if e["user"] == OPERATOR]
                assert "This case is resolved" in said[-1]["text"]
                assert len(await store.latest_runs(case_id, limit=10)) == runs

                (summary,) = await ask("summary")
                body = text_of(summary)
                assert "Hand-over: web-02" in body
                assert "`libvirt_tls`" in body
                assert f"claimed by <@{OPERATOR}>" in body
                assert "moved by hand to cmp-a-03" in body
                for kind in (
                    "opened",
                    "diagnosed",
                    "claimed",
                    "command",
                    "checked",
                    "resolved",
                ):
                    assert f"{kind}:" in body, kind

                # reopened, a rerun runs again and says what changed in the thread
                (reopened,) = await ask("reopen")
                assert "reopened the case" in reopened.text
                replies = await ask("rerun")
                assert replies[0].text.startswith("🔁 Re-running the diagnosis")
                assert any("Re-run finished" in m.text for m in replies)
                assert len(await store.latest_runs(case_id, limit=10)) == runs + 1

                # outside a case thread: answered in the mention's own thread
                await fake.mention(OPS, None, "status", user=OPERATOR)
                await bot.services.tasks.drain()
                mention = fake.history(OPS)[-1]
                assert mention.user == OPERATOR
                (where,) = fake.thread(OPS, mention.ts)
                assert where.text.startswith("Ask me in the thread of a case")
            finally:
                await bot.close()
                await store.close()
        assert await print_timeline(settings, case_id) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == f"case {case_id}  vm web-02  open (reopened)"
        assert "command: @migrate-diag resolve moved by hand to cmp-a-03" in out
        assert await print_timeline(settings, "case-nope") == 1
