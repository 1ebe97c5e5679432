"""``@migrate-diag <command>`` in a case thread: check, rerun, status, summary, resolve;
in a storm's thread, ``show <vm>`` posts one member's own diagnosis there.

Each command is authorised like its button (``bot.authz``); a refusal is told privately
and changes nothing. Answers go to the thread, through the bot's one ordered writer.
Every command that ran is an entry of the case's timeline.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import Block, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click
from bot.actions.rerun import rerun_case
from bot.actions.resolve import reopen_by_user, resolve_by_user
from bot.actions.retry import offered, retry_button, target_passed
from bot.authz import Action
from bot.events.handover import status_text, summary_blocks
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import STATUS_ICON, STATUS_WORD, fit, md
from bot.services import Services
from bot.store import CaseRecord
from bot.store.resolution_repo import case_in_thread, resolution_of
from bot.store.timeline_repo import record_event, timeline
from bot.textsafe import code_span, escaped_within, user_mention
from diagnostics.model import Diagnosis, DiagnosticsError, MigrationRef

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
# a compute host name as Nova shows it: letters, digits, dot, dash, underscore; no
# leading dash (never an option), nothing a shell or Slack would read
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
# a VM's name or uuid as the store has it: one word (only looked up, never run)
VM_NAME = re.compile(r"^\S{1,255}$")

COMMANDS: dict[str, tuple[Action, str]] = {
    "check": (Action.DIAGNOSE, "`check <host>` — could this host take the VM?"),
    "rerun": (Action.RERUN, "`rerun` — diagnose the case again"),
    "status": (Action.SHOW_EVIDENCE, "`status` — where the case stands"),
    "summary": (Action.SHOW_EVIDENCE, "`summary` — a hand-over with the timeline"),
    "resolve": (Action.RESOLVE, "`resolve <reason>` — close the case by hand"),
    "reopen": (Action.RESOLVE, "`reopen` — undo a resolution"),
    "show": (
        Action.SHOW_EVIDENCE,
        "`show <vm>` — in a storm's thread, one VM's diagnosis",
    ),
}


def command_list() -> str:
    return "I understand, in a case thread:\n" + "\n".join(
        f"• {usage}" for _, usage in COMMANDS.values()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    user: str
    channel: str
    thread: str  # the thread the answer goes to
    in_thread: bool
    words: tuple[str, ...]

    @classmethod
    def of(cls, event: dict[str, Any]) -> Mention:
        text = _MENTION.sub(" ", str(event.get("text", "")))
        thread = event.get("thread_ts")
        return cls(
            user=str(event.get("user", "")),
            channel=str(event.get("channel", "")),
            thread=str(thread or event.get("ts", "")),
            in_thread=thread is not None,
            words=tuple(text.split()),
        )

    @property
    def command(self) -> str:
        return self.words[0].lower() if self.words else ""

    @property
    def rest(self) -> str:
        return " ".join(self.words[1:])


class ThreadCommands:
    """Runs one mention; ``handle`` never raises into Bolt (errors are said in the thread)."""

    def __init__(
        self, services: Services, poster: SlackCasePoster, client: AsyncWebClient
    ) -> None:
        self.services = services
        self.poster = poster
        self.client = client

    async def say(
        self, m: Mention, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        await self.poster.writer.post(m.channel, blocks, text, thread_ts=m.thread)

    async def handle(self, m: Mention) -> None:
        if m.command not in COMMANDS:
            unknown = f"I don't know {code_span(m.command, 40)}. " if m.command else ""
            await self.say(m, unknown + command_list())
            return
        if m.command == "show":  # a storm thread holds many cases: the VM names one
            await self._show(m)
            return
        case = (
            await case_in_thread(self.services.store, m.channel, m.thread)
            if m.in_thread
            else None
        )
        if case is None:
            await self.say(
                m, "Ask me in the thread of a case (the diagnosis' parent message)."
            )
            return
        action, usage = COMMANDS[m.command]
        refusal = await self.services.authz.check(action, m.user, m.channel)
        if refusal is not None:
            await self.client.chat_postEphemeral(
                channel=m.channel, user=m.user, text=refusal.message
            )
            return
        await record_event(
            self.services.store,
            case.id,
            actor=m.user,
            kind="command",
            text=f"@migrate-diag {m.command} {m.rest}".strip(),
        )
        await getattr(self, f"_{m.command}")(m, case, usage)

    async def _show(self, m: Mention) -> None:
        action, usage = COMMANDS["show"]
        refusal = await self.services.authz.check(action, m.user, m.channel)
        if refusal is not None:
            await self.client.chat_postEphemeral(
                channel=m.channel, user=m.user, text=refusal.message
            )
            return
        vm = m.rest.strip()
        if not m.in_thread or not VM_NAME.match(vm):
            await self.say(m, f"In a storm's thread, name one VM: {usage}")
            return
        case = await self.services.store.find_in_thread(m.channel, m.thread, vm)
        if case is None:
            await self.say(m, f"No VM {code_span(vm, 120)} in this storm's thread.")
            return
        problem = await self.poster.show_case(case.id)
        if problem is not None:
            await self.say(m, escaped_within(problem, 300))
            return
        await record_event(
            self.services.store,
            case.id,
            actor=m.user,
            kind="command",
            text=f"@migrate-diag show {vm}",
        )

    async def _status(self, m: Mention, case: CaseRecord, usage: str) -> None:
        store = self.services.store
        runs = await store.latest_runs(case.id, limit=1)
        text = status_text(
            case,
            runs[0] if runs else None,
            await resolution_of(store, case.id),
            await store.escalations(case.id),
            running=self.poster.is_running(case.id),
        )
        await self.say(m, text)

    async def _summary(self, m: Mention, case: CaseRecord, usage: str) -> None:
        store = self.services.store
        blocks = summary_blocks(
            case,
            await store.latest_runs(case.id, limit=5),
            await resolution_of(store, case.id),
            await timeline(store, case.id),
        )
        await self.say(m, f"Hand-over for {case.vm_name}", fit(blocks))

    async def _resolve(self, m: Mention, case: CaseRecord, usage: str) -> None:
        if len(m.rest.strip()) < 3:
            await self.say(m, f"Say why: {usage}")
            return
        said = await resolve_by_user(self.services, self.poster, case, m.user, m.rest)
        if said != "Resolved.":  # the resolution itself is announced in the thread
            await self.say(m, said)

    async def _reopen(self, m: Mention, case: CaseRecord, usage: str) -> None:
        said = await reopen_by_user(self.services, self.poster, case, m.user)
        if said != "Reopened.":
            await self.say(m, said)

    async def _rerun(self, m: Mention, case: CaseRecord, usage: str) -> None:
        await self.say(m, f"🔁 Re-running the diagnosis for {user_mention(m.user)}…")
        click = Click(user=m.user, channel=m.channel, message_ts=None, value=case.id)
        await rerun_case(self.services, self.poster, self.client, click)

    async def _check(self, m: Mention, case: CaseRecord, usage: str) -> None:
        host = m.rest.strip()
        if not HOST_NAME.match(host):
            await self.say(m, f"Name one compute host: {usage}")
            return
        ref = MigrationRef(
            server=case.vm_id or case.vm_name,
            migration_id=case.migration_id,
            target_host=host,
            kind=case.kind,
        )
        await self.say(
            m, f"🔎 Checking whether {code_span(host, 120)} could take this VM…"
        )
        try:
            async with self.services.diagnosis_slots:
                d = await self.services.diagnoser.diagnose(ref)
        except DiagnosticsError as exc:
            await self.say(m, f"Could not check {code_span(host, 120)}: {exc}")
            return
        text = check_result(host, d)
        blocks: list[Block] = [SectionBlock(text=md(text))]
        if offered(self.services.settings, d):
            button = retry_button(case, d, host)
            if button is not None:
                blocks.append(button)
        await self.say(m, text, fit(blocks))
        await record_event(
            self.services.store,
            case.id,
            actor=None,
            kind="checked",
            text=f"checked {host}: {d.verdict}",
        )


def check_result(host: str, d: Diagnosis) -> str:
    """The engine's evaluation of ``host`` as the destination, as it found it."""
    head = f"*Checked {code_span(host, 120)} as the destination of {code_span(d.vm.name, 120)}:*"
    if target_passed(d):
        verdict = (
            "✅ nothing found that stops this host: capacity and CPU, AZ and aggregates,"
            " services and probes (steps 5–7) passed."
        )
        if d.root_cause is not None:  # unknown: the earlier failure's cause, not H's
            verdict += " The earlier failure's own cause stays unknown."
    elif (f := d.root_cause) is None:
        verdict = "⚠️ not every check of this host passed; see the steps below."
    else:
        verdict = (
            f"❌ {code_span(f.root_cause.value, 60)} — {escaped_within(f.title, 300)}"
            f" (confidence: {f.confidence.value})\n{escaped_within(f.summary, 800)}"
        )
    steps = "\n".join(
        f"{STATUS_ICON[s.status]} {s.number}. {escaped_within(s.title, 80)}: "
        f"{STATUS_WORD[s.status]}"
        for s in d.steps
    )
    return f"{head}\n{verdict}\n{steps}"


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        # Bolt acks Events API requests itself; the work runs after
        mention = Mention.of(event)
        services.tasks.spawn(
            ThreadCommands(services, poster, client).handle(mention),
            name=f"mention-{mention.thread}",
        )
