"""`migrate-diag demo`: a real diagnosis on an embedded simulated region, and a thread preview.

The region runs in this process (OpenStack APIs over HTTP on 127.0.0.1, hypervisors as SSH
servers, a Kubernetes API). The diagnosis goes through the same engine and collectors as a
real cloud, streams to the terminal, and is posted by the bot's own ``SlackCasePoster`` into an
in-memory Slack recorder; ``demo-thread.html`` is drawn from exactly those messages.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_services
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.settings import BotSettings
from bot.store import Store
from diagnostics.engine import Engine
from diagnostics.model import (
    DiagnosisFinished,
    DiagnosisStarted,
    MigrationRef,
    ProgressEvent,
    StepFinished,
)
from diagnostics.report import text
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.demo.preview import render_thread_html
from sim.region.statedir import write_state_dir
from sim.scenario.load import load_scenario
from sim.scenario.model import Scenario
from sim.wiring import Region

DEMO_CHANNEL = "C0DEMO"


@dataclass
class RecordedMessage:
    ts: str
    blocks: list[dict[str, Any]]
    text: str
    thread_ts: str | None


def _blocks_of(blocks: list[dict[str, Any]] | None, text: str) -> list[dict[str, Any]]:
    # a plain-text message (blocks None) shows its text, as Slack does
    return blocks or [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


@dataclass
class SlackRecorder:
    """The Web API methods a case post uses, kept in memory (no network in a demo).

    ``echo`` (when set) sees the text of every thread reply and edit as it is written:
    ``demo --fix`` narrates the fix from it.
    """

    messages: dict[str, RecordedMessage] = field(default_factory=dict)
    ephemeral: list[str] = field(default_factory=list)
    echo: Callable[[str], None] | None = None
    _counter: int = 0

    async def chat_postMessage(
        self,
        *,
        channel: str,
        blocks: list[dict[str, Any]] | None,
        text: str,
        **kw: Any,
    ) -> dict[str, Any]:
        self._counter += 1
        ts = f"1700000000.{self._counter:06d}"
        thread = kw.get("thread_ts")
        self.messages[ts] = RecordedMessage(ts, _blocks_of(blocks, text), text, thread)
        if thread is not None and self.echo is not None:
            self.echo(text)
        return {"ok": True, "channel": channel, "ts": ts}

    async def chat_postEphemeral(
        self, *, channel: str, user: str, text: str, **kw: Any
    ) -> dict[str, Any]:
        self.ephemeral.append(text)
        if self.echo is not None:
            self.echo(f"(only {user} sees) {text}")
        return {"ok": True}

    async def chat_update(
        self,
        *,
        channel: str,
        ts: str,
        blocks: list[dict[str, Any]] | None,
        text: str,
        **kw: Any,
    ) -> dict[str, Any]:
        message = self.messages[ts]
        message.blocks, message.text = _blocks_of(blocks, text), text
        if message.thread_ts is not None and self.echo is not None:
            self.echo(text)
        return {"ok": True, "channel": channel, "ts": ts}

    def thread(self) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        """The parent's final blocks and the replies' blocks, in posting order."""
        ordered = sorted(self.messages.values(), key=lambda m: m.ts)
        parent = next(m for m in ordered if m.thread_ts is None)
        return parent.blocks, [m.blocks for m in ordered if m.thread_ts == parent.ts]


@dataclass
class StreamingDiagnoser:
    """Tees the engine's progress to the terminal and to the poster."""

    engine: Engine
    out: TextIO
    style: text.Style

    async def diagnose(self, ref: MigrationRef, on_event: Any = None) -> Any:
        async def both(event: ProgressEvent) -> None:
            if isinstance(event, DiagnosisStarted):
                self.out.write(text.header(event, self.style) + "\n")
            elif isinstance(event, StepFinished):
                self.out.write(text.step_line(event.step, self.style) + "\n")
            elif isinstance(event, DiagnosisFinished):
                self.out.write(text.verdict(event.diagnosis, self.style) + "\n")
            self.out.flush()
            if on_event is not None:
                await on_event(event)

        return await self.engine.diagnose(ref, both)


@asynccontextmanager
async def embedded_region(
    scenario: Scenario,
    workdir: Path,
    amqp_url: str | None = None,
    *,
    move_step_s: float = 0.0,
) -> AsyncIterator[tuple[Region, BotSettings]]:
    """A running region and the settings that point migrate-diag at it (SQLite store
    in ``workdir``); a move started through its API takes ``move_step_s`` per status."""
    region = Region(
        scenario, key_dir=workdir / "keys", amqp_url=amqp_url, move_step_s=move_step_s
    )
    async with region:
        paths = write_state_dir(region, workdir / "state")
        settings = load_settings(paths["config"], BotSettings)
        store_url = f"sqlite+aiosqlite:///{workdir / 'demo.sqlite'}"
        yield (
            region,
            settings.model_copy(
                update={"store": settings.store.model_copy(update={"url": store_url})}
            ),
        )


async def write_preview(
    recorder: SlackRecorder, html_path: Path, title: str, out: TextIO
) -> None:
    """The recorded thread as the HTML preview of what Slack would show."""
    parent, replies = recorder.thread()
    page = render_thread_html(parent, replies, title=title)
    await asyncio.to_thread(html_path.write_text, page, encoding="utf-8")
    out.write(f"\nSlack thread preview written to {html_path}\n")


async def run_demo(scenario_name: str, html_path: Path, out: TextIO) -> int:
    """Diagnose the scenario's failed VM, print it, and write the Slack thread preview."""
    scenario = load_scenario(scenario_name)
    vm = scenario.expect.vm if scenario.expect else scenario.servers[0].name
    out.write(
        f"Starting a simulated region: {scenario.name} — {scenario.description}\n\n"
    )
    recorder = SlackRecorder()
    with tempfile.TemporaryDirectory(prefix="migrate-diag-demo-") as tmp:
        async with embedded_region(scenario, Path(tmp)) as (_, settings):
            store = await Store.open(settings.store.url)
            try:
                async with open_engine(settings) as engine:
                    services = build_services(
                        settings,
                        diagnoser=StreamingDiagnoser(
                            engine, out, text.Style(out.isatty())
                        ),
                        store=store,
                        # the recorder stands in for AsyncWebClient's two posting methods
                        client=cast(AsyncWebClient, recorder),
                        routing_key=None,
                        pacer=ChannelPacer(rate_per_s=50, burst=50),
                    )
                    poster = SlackCasePoster(cast(AsyncWebClient, recorder), services)
                    ref = MigrationRef(
                        server=vm,
                        target_host=scenario.expect.target_host
                        if scenario.expect
                        else None,
                    )
                    await poster.post_case(
                        uuid.uuid4().hex[:12], ref, DEMO_CHANNEL, source="demo"
                    )
            finally:
                await store.close()
    await write_preview(recorder, html_path, f"migrate-diag: {vm}", out)
    return 0
