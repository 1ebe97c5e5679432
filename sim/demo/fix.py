"""`migrate-diag demo --fix`: the whole loop on the embedded region, from failure to green.

The scenario's failed migration is diagnosed and posted (as `demo`), then the bot is asked
in the thread to `check` the other hosts one by one until one passes; its *Retry to H*
button is confirmed by a demo fix user, the move runs on the simulated Nova (a status
every ``MOVE_STEP_S``), the bot follows it and the case resolves. Fixes are turned on
only in this process's own settings (``actions.enabled``, the region's ``sim`` cloud,
``access.fix_users`` = the demo user); nothing is read from or written to a config file.
The listeners are the bot's own (``ThreadCommands``, ``retry``) over the in-memory Slack
recorder, so the terminal narrates what the thread shows and ``demo-thread.html`` draws
it: the check, the Retry button and its confirm, the audit reply, the watch, the green
parent.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click
from bot.actions.retry import RETRY, retry
from bot.app import build_services
from bot.events.mentions import Mention, ThreadCommands
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import resolved_line
from bot.services import OnEvent, Services
from bot.settings import ActionsSettings, BotSettings, WatchSettings
from bot.store import Store
from bot.store.fix_repo import fixes
from bot.store.resolution_repo import resolution_of
from diagnostics.engine import Engine
from diagnostics.model import Diagnosis, MigrationRef
from diagnostics.report import text
from diagnostics.service import open_engine
from sim.demo.demo import (
    DEMO_CHANNEL,
    SlackRecorder,
    StreamingDiagnoser,
    embedded_region,
    write_preview,
)
from sim.region.state import server_by_name
from sim.scenario.load import load_scenario
from sim.wiring import Region

DEMO_FIXER = "U0DEMOFIX"  # the demo's fix user, the only one allowed to move servers
MOVE_STEP_S = 0.4  # each Nova status of the retried move lasts this long on the sim
FAILED = ("error", "failed", "cancelled")


@dataclass
class _Narrated:
    """Streams a diagnosis to the terminal only while ``loud`` (the case's own one)."""

    streaming: StreamingDiagnoser
    engine: Engine
    loud: bool = True

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        if self.loud:
            return cast(Diagnosis, await self.streaming.diagnose(ref, on_event))
        return await self.engine.diagnose(ref, on_event)


def _plain(mrkdwn: str) -> str:
    """Slack's markup as a terminal shows it: no bold stars, code ticks or <@U…>."""
    return re.sub(r"<@([A-Z0-9]+)>", r"@\1", mrkdwn.replace("*", "").replace("`", ""))


def with_fixes(base: BotSettings) -> BotSettings:
    """The demo's own settings: Retry on, with the region's admin cloud, for DEMO_FIXER."""
    return base.model_copy(
        update={
            "actions": ActionsSettings(
                enabled=True,
                cloud="sim",
                watch=WatchSettings(first_poll_s=0.2, max_poll_s=1.0),
            ),
            "access": base.access.model_copy(update={"fix_users": (DEMO_FIXER,)}),
        }
    )


def _retry_value(blocks: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """(button value, its confirm dialog) of a reply's Retry button, if it has one."""
    for block in blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("action_id") == RETRY:
                return str(element["value"]), element["confirm"]
    return None


class _Story:
    def __init__(
        self, out: TextIO, recorder: SlackRecorder, region: Region, vm: str
    ) -> None:
        self.out = out
        self.recorder = recorder
        self.region = region
        self.vm = vm
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        self.out.write(f"\n── {self.number}. {title}\n")
        self.out.flush()

    def say(self, line: str) -> None:
        self.out.write(f"   {_plain(line)}\n")
        self.out.flush()

    def last_reply(self) -> Any:
        return max(
            (m for m in self.recorder.messages.values() if m.thread_ts is not None),
            key=lambda m: m.ts,
        )

    def the_failure(self) -> str:
        server = server_by_name(self.region.state, self.vm)
        failed = [
            m
            for m in self.region.state.migrations
            if m.instance_uuid == server["id"] and m.status in FAILED
        ]
        if not failed:
            raise ValueError(f"{self.vm} has no failed migration to fix")
        m = failed[-1]
        self.say(
            f"{m.migration_type} {m.id} of {self.vm}: {m.source_compute} → "
            f"{m.dest_compute} ended {m.status!r}; the VM is still on {server['host']}"
        )
        return str(server["host"])


async def fix_demo(
    scenario_name: str, out: TextIO, *, html_path: Path = Path("demo-thread.html")
) -> int:
    """Run the loop; 0 when the case ended resolved by the retried move, else 1."""
    scenario = load_scenario(scenario_name)
    vm = scenario.expect.vm if scenario.expect else scenario.servers[0].name
    out.write(
        f"Starting a simulated region: {scenario.name} — {scenario.description}\n"
        f"Fixes are on for this demo only (actions.enabled, fix user {DEMO_FIXER}).\n"
    )
    recorder = SlackRecorder()
    with tempfile.TemporaryDirectory(prefix="migrate-diag-fix-") as tmp:
        async with embedded_region(scenario, Path(tmp), move_step_s=MOVE_STEP_S) as (
            region,
            base,
        ):
            settings = with_fixes(base)
            store = await Store.open(settings.store.url)
            try:
                story = _Story(out, recorder, region, vm)
                resolved = await _loop(story, settings, store, sorted(scenario.hosts))
            finally:
                await store.close()
    await write_preview(recorder, html_path, f"migrate-diag (fix): {vm}", out)
    return 0 if resolved else 1


async def _loop(
    story: _Story, settings: BotSettings, store: Store, hosts: list[str]
) -> bool:
    out, recorder = story.out, story.recorder
    client = cast(AsyncWebClient, recorder)
    async with open_engine(settings) as engine:
        narrated = _Narrated(
            StreamingDiagnoser(engine, out, text.Style(out.isatty())), engine
        )
        services = build_services(
            settings,
            diagnoser=narrated,
            store=store,
            client=client,
            routing_key=None,
            pacer=ChannelPacer(rate_per_s=50, burst=50),
        )
        poster = SlackCasePoster(client, services)
        story.step("The failure")
        source = story.the_failure()

        story.step("The diagnosis (posted as a case, its steps in the thread)")
        case_id = uuid.uuid4().hex[:12]
        await poster.post_case(
            case_id, MigrationRef(server=story.vm), DEMO_CHANNEL, source="demo"
        )
        case = await store.get_case(case_id)
        assert case is not None
        assert case.parent_ts is not None
        narrated.loud = False  # the checks and the click-time re-check stay quiet

        story.step(
            "Which host could take it? (@migrate-diag check <host> in the thread)"
        )
        offer = await _find_host(
            story, services, poster, client, case.parent_ts, hosts, source
        )
        if offer is None:
            story.say("no host passed every check: nothing to retry")
            return False
        reply_ts, value, confirm = offer

        story.step("Retry, confirmed by the demo fix user")
        story.say(f"confirm dialog: {confirm['title']['text']}")
        story.say(f"  {confirm['text']['text']}")
        story.say(f"{DEMO_FIXER} clicks “{confirm['confirm']['text']}”")
        recorder.echo = lambda said: story.say(f"thread: {said}")
        click = Click(
            user=DEMO_FIXER, channel=DEMO_CHANNEL, message_ts=reply_ts, value=value
        )
        await retry(services, poster, client, click)

        story.step("The move runs on the sim; the bot follows it")
        await services.watches.drain()  # the watch: bounded (actions.watch)
        recorder.echo = None

        story.step("Where it ends")
        for audit in await fixes(store, case_id):
            story.say(
                f"audit: {audit.user_id} {audit.what}: {audit.status}"
                f" (request {audit.request_id}) at {audit.at:%H:%M:%S} UTC"
            )
        resolution = await resolution_of(store, case_id)
        if resolution is None or not resolution.resolved:
            story.say("the case is still open")
            return False
        story.say(resolved_line(resolution))
        return True


async def _find_host(
    story: _Story,
    services: Services,
    poster: SlackCasePoster,
    client: AsyncWebClient,
    thread: str,
    hosts: list[str],
    source: str,
) -> tuple[str, str, dict[str, Any]] | None:
    """Check each other host in the thread until one is offered a Retry."""
    commands = ThreadCommands(services, poster, client)
    for host in hosts:
        if host == source:
            continue
        mention = Mention(
            user=DEMO_FIXER,
            channel=DEMO_CHANNEL,
            thread=thread,
            in_thread=True,
            words=("check", host),
        )
        await commands.handle(mention)
        reply = story.last_reply()
        found = _retry_value(reply.blocks)
        verdict = reply.text.splitlines()[1] if "\n" in reply.text else reply.text
        story.say(f"check {host}: {verdict}")
        if found is not None:
            story.say(f"→ the answer carries “Retry to {host}”")
            return reply.ts, found[0], found[1]
        story.say("→ no Retry offered for this host")
    return None
