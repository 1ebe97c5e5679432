"""Each listener called directly, with Bolt's ``ack``, ``respond`` and client faked.

As bolt-python's starter template tests its listeners: ``register`` is given a stand-in
for the app that keeps each listener, the test calls it with ``AsyncMock``s, and asserts
the ack came first and what the listener asked Slack (and the store) to do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import actions, commands
from bot.authz import Authorizer
from bot.escalation import EscalationResult
from bot.pacing import ChannelPacer
from bot.posting.writer import SlackWriter
from bot.rendering import CLAIM, ESCALATE, RERUN, SHOW_EVIDENCE
from bot.services import Services
from bot.settings import AccessSettings, BotSettings, EscalationSettings
from bot.slots import DiagnosisSlots
from bot.store import CaseRecord, Store
from diagnostics.model import (
    AmbiguousVm,
    DiagnosticsError,
    MigrationKind,
    MigrationRef,
    VmNotFound,
)
from tests.bot.support import ScriptedDiagnoser, scripted_diagnosis

OPS = "C0OPS0001"
OPERATOR = "U0OPER001"
BOSS = "U0BOSS001"
PARENT_TS = "1700000000.000100"
COMMAND = "/migrate-diag"

Listener = Callable[..., Awaitable[None]]


class ListenerApp:
    """Stands in for ``AsyncApp`` in ``register``: keeps each listener by its id."""

    def __init__(self) -> None:
        self.listeners: dict[str, Listener] = {}

    def _keep(self, key: str) -> Callable[[Listener], Listener]:
        def decorator(listener: Listener) -> Listener:
            self.listeners[key] = listener
            return listener

        return decorator

    def command(self, name: str) -> Callable[[Listener], Listener]:
        return self._keep(name)

    def action(self, action_id: str) -> Callable[[Listener], Listener]:
        return self._keep(action_id)

    def view(self, callback_id: str) -> Callable[[Listener], Listener]:
        return self._keep(callback_id)

    def event(self, event_type: str) -> Callable[[Listener], Listener]:
        return self._keep(event_type)


@dataclass
class RecordingPoster:
    """Stands in for ``SlackCasePoster``: records what the listeners ask of it."""

    writer: SlackWriter
    running: set[str] = field(default_factory=set)
    fail_with: Exception | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)

    def is_running(self, case_id: str) -> bool:
        return case_id in self.running

    async def post_case(
        self,
        case_id: str,
        ref: MigrationRef,
        channel: str,
        thread_ts: str | None = None,
        *,
        requested_by: str | None = None,
        source: str = "auto",
    ) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append(
            {
                "case_id": case_id,
                "ref": ref,
                "channel": channel,
                "requested_by": requested_by,
                "source": source,
            }
        )

    async def refresh_parent(self, case_id: str) -> None:
        self.refreshed.append(case_id)


@dataclass
class RecordingPager:
    """Stands in for PagerDuty: accepts every trigger and keeps it."""

    triggers: list[dict[str, Any]] = field(default_factory=list)

    async def trigger(self, **event: Any) -> EscalationResult:
        self.triggers.append(event)
        return EscalationResult(accepted=True, status="accepted")

    async def close(self) -> None:
        pass


@dataclass
class Harness:
    services: Services
    store: Store
    poster: RecordingPoster
    pager: RecordingPager
    client: AsyncMock
    listeners: dict[str, Listener]
    acked_before: list[list[Any]] = field(default_factory=list)

    def ack(self) -> AsyncMock:
        """``ack`` that notes which Slack calls had been made when it was called."""

        async def record(*_: Any, **__: Any) -> None:
            self.acked_before.append(list(self.client.mock_calls))

        return AsyncMock(side_effect=record)

    async def call(self, listener_id: str, **kwargs: Any) -> AsyncMock:
        """Run the listener as Bolt would, then wait for the work it spawned."""
        ack = self.ack()
        await self.listeners[listener_id](ack=ack, **kwargs)
        await self.services.tasks.drain()
        return ack

    async def parented_case(self, **kw: Any) -> CaseRecord:
        case = await self.store.create_case(
            vm_name="web-02", channel=OPS, source="slash", **kw
        )
        return await self.store.set_parent(case.id, channel=OPS, parent_ts=PARENT_TS)


def slack_client() -> AsyncMock:
    client = AsyncMock(spec=AsyncWebClient)
    client.usergroups_users_list.return_value = {"ok": True, "users": []}
    return client


@pytest.fixture
def access() -> AccessSettings:
    """Everyone may do everything, unless a test parametrizes ``access``."""
    return AccessSettings()


@pytest.fixture
async def harness(tmp_path: Path, access: AccessSettings) -> AsyncIterator[Harness]:
    harness = await make_harness(tmp_path, access)
    yield harness
    await harness.store.close()


async def make_harness(tmp_path: Path, access: AccessSettings) -> Harness:
    settings = BotSettings().model_copy(
        update={
            "access": access,
            "escalation": EscalationSettings(oncall_group="S0ONCALL1"),
        }
    )
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
    client = slack_client()
    pager = RecordingPager()
    services = Services(
        settings=settings,
        diagnoser=ScriptedDiagnoser(),
        store=store,
        pager=pager,
        pacer=ChannelPacer(rate_per_s=1000, burst=100),
        authz=Authorizer(access, client),
        diagnosis_slots=DiagnosisSlots(2),
    )
    poster = RecordingPoster(writer=SlackWriter(client, services.pacer))
    app = ListenerApp()
    commands.register(app, services, poster)  # type: ignore[arg-type]
    actions.register(app, services, poster)  # type: ignore[arg-type]
    return Harness(
        services=services,
        store=store,
        poster=poster,
        pager=pager,
        client=client,
        listeners=app.listeners,
    )


def click(action_id: str, value: str, *, user: str = OPERATOR) -> dict[str, Any]:
    """The parts of a ``block_actions`` payload the listeners read."""
    return {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": OPS},
        "container": {"type": "message", "message_ts": PARENT_TS, "channel_id": OPS},
        "actions": [{"type": "button", "action_id": action_id, "value": value}],
    }


def slash(text: str, *, user: str = OPERATOR) -> dict[str, Any]:
    return {
        "command": COMMAND,
        "text": text,
        "channel_id": OPS,
        "user_id": user,
        "trigger_id": "trigger-1",
    }


def ephemeral_texts(client: AsyncMock) -> list[str]:
    return [c.kwargs["text"] for c in client.chat_postEphemeral.await_args_list]


# --- the slash command -------------------------------------------------------------


async def test_slash_command_acks_then_posts_the_case(harness: Harness) -> None:
    """A valid command is acked with "Diagnosing …" at once, then handed to the poster."""
    respond = AsyncMock()
    ack = await harness.call(
        COMMAND, command=slash("web-02 --kind evacuation"), respond=respond
    )
    ack.assert_awaited_once_with(text="Diagnosing `web-02`…")
    assert harness.acked_before == [[]]
    [post] = harness.poster.posts
    assert post["ref"] == MigrationRef(server="web-02", kind=MigrationKind.EVACUATION)
    assert (post["channel"], post["requested_by"], post["source"]) == (
        OPS,
        OPERATOR,
        "slash",
    )
    assert post["case_id"].startswith("case-")
    respond.assert_not_awaited()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("help", "*Usage:* `/migrate-diag <vm name or id>"),
        ("web-02 --bogus", "Unknown option `--bogus`."),
    ],
    ids=["help", "usage-error"],
)
async def test_slash_command_answers_help_and_usage_in_the_ack(
    harness: Harness, text: str, reason: str
) -> None:
    """Help and bad input are answered in the ack itself; nothing is diagnosed."""
    ack = await harness.call(COMMAND, command=slash(text), respond=AsyncMock())
    assert reason in ack.await_args.kwargs["text"]
    assert harness.poster.posts == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            VmNotFound("nope-vm"),
            "No VM matches `nope-vm`. Check the name or give its id.",
        ),
        (
            AmbiguousVm("nope-vm", [("id-1", "nope-vm", "ACTIVE", "cmp-1")] * 2),
            "2 VMs are named `nope-vm`; run the command again with an id:",
        ),
        (
            DiagnosticsError("keystone said 503"),
            "Could not diagnose `nope-vm`: keystone said 503",
        ),
    ],
    ids=["not-found", "ambiguous", "diagnostics-error"],
)
async def test_slash_command_failure_before_posting_is_answered_privately(
    harness: Harness, failure: Exception, reason: str
) -> None:
    """A failure before anything was posted is an ephemeral reply saying why."""
    harness.poster.fail_with = failure
    respond = AsyncMock()
    await harness.call(COMMAND, command=slash("nope-vm"), respond=respond)
    respond.assert_awaited_once()
    assert reason in respond.await_args.kwargs["text"]
    assert respond.await_args.kwargs["response_type"] == "ephemeral"


@pytest.mark.parametrize("access", [AccessSettings(diagnose_users=(BOSS,))])
async def test_slash_command_refused_user_is_told_why(harness: Harness) -> None:
    """A user outside the diagnose list gets the refusal; the poster is never called."""
    respond = AsyncMock()
    ack = await harness.call(COMMAND, command=slash("web-02"), respond=respond)
    # the refusal is the ack, so "Diagnosing…" is never the last thing they see
    ack.assert_awaited_once_with(
        text="You are not allowed to diagnose here. Nothing was run."
    )
    respond.assert_not_awaited()
    assert harness.poster.posts == []


# --- the buttons ---------------------------------------------------------------------


async def test_claim_records_the_claimer_and_says_so_in_the_thread(
    harness: Harness,
) -> None:
    """Claim acks first, stores who claimed, refreshes the parent and posts in the thread."""
    case = await harness.parented_case()
    await harness.call(CLAIM, body=click(CLAIM, case.id), client=harness.client)
    assert harness.acked_before == [[]]
    assert (await harness.store.get_case(case.id)).claimed_by == OPERATOR  # type: ignore[union-attr]
    assert harness.poster.refreshed == [case.id]
    harness.client.chat_postMessage.assert_awaited_once_with(
        channel=OPS,
        blocks=None,
        text=f"🙋 <@{OPERATOR}> is on it.",
        thread_ts=PARENT_TS,
    )


async def test_claim_of_a_forgotten_case_is_refused_with_the_reason(
    harness: Harness,
) -> None:
    """A button whose case is gone gets an ephemeral reason and changes nothing."""
    await harness.call(CLAIM, body=click(CLAIM, "case-gone"), client=harness.client)
    assert ephemeral_texts(harness.client) == ["This case is no longer in the store."]
    harness.client.chat_postMessage.assert_not_awaited()
    assert harness.poster.refreshed == []


async def test_escalate_pages_records_and_hands_off_in_the_thread(
    harness: Harness,
) -> None:
    """Escalate triggers PagerDuty with the case's dedup key, records it, mentions on-call."""
    case = await harness.parented_case()
    await harness.store.record_run(case.id, scripted_diagnosis("web-02"), OPERATOR)
    await harness.call(ESCALATE, body=click(ESCALATE, case.id), client=harness.client)
    assert harness.acked_before == [[]]
    [event] = harness.pager.triggers
    assert event["dedup_key"] == f"migrate-diag:{case.id}"
    assert event["source"] == "cmp-a-01"  # the migration's source host
    assert event["custom_details"]["verdict"] == "libvirt_tls"
    assert event["custom_details"]["escalated_by_slack_user"] == OPERATOR
    [record] = await harness.store.escalations(case.id)
    assert (record.user_id, record.status) == (OPERATOR, "accepted")
    posted = harness.client.chat_postMessage.await_args.kwargs
    assert (posted["channel"], posted["thread_ts"]) == (OPS, PARENT_TS)
    assert "<!subteam^S0ONCALL1>" in str(posted["blocks"])
    assert posted["text"] == f"Escalated case {case.id} to on-call"


@pytest.mark.parametrize("access", [AccessSettings(escalate_users=(BOSS,))])
async def test_escalate_refused_user_pages_nobody(harness: Harness) -> None:
    """Outside the escalate list: the reason, privately; no page, no record."""
    case = await harness.parented_case()
    await harness.call(ESCALATE, body=click(ESCALATE, case.id), client=harness.client)
    assert ephemeral_texts(harness.client) == [
        "You are not allowed to escalate here. Nothing was run."
    ]
    assert harness.pager.triggers == []
    assert await harness.store.escalations(case.id) == []


async def test_rerun_diagnoses_the_same_case_again(harness: Harness) -> None:
    """Re-run hands the stored case (VM, migration, kind) back to the poster."""
    case = await harness.parented_case(migration_id="42", kind=MigrationKind.RESIZE)
    await harness.call(RERUN, body=click(RERUN, case.id), client=harness.client)
    assert harness.acked_before == [[]]
    [post] = harness.poster.posts
    assert post == {
        "case_id": case.id,
        "ref": MigrationRef(
            server="web-02", migration_id="42", kind=MigrationKind.RESIZE
        ),
        "channel": OPS,
        "requested_by": OPERATOR,
        "source": "slash",
    }


@pytest.mark.parametrize(
    ("running", "failure", "reason"),
    [
        (True, None, "This case is being diagnosed right now; wait for it to finish."),
        (
            False,
            VmNotFound("web-02"),
            "Re-run failed before it started: ",
        ),
    ],
    ids=["already-running", "fails-before-posting"],
)
async def test_rerun_that_cannot_run_says_why(
    harness: Harness, running: bool, failure: Exception | None, reason: str
) -> None:
    """A re-run of a running case, or one that fails at once, is an ephemeral reason."""
    case = await harness.parented_case()
    if running:
        harness.poster.running.add(case.id)
    harness.poster.fail_with = failure
    await harness.call(RERUN, body=click(RERUN, case.id), client=harness.client)
    [text] = ephemeral_texts(harness.client)
    assert text.startswith(reason)
    assert harness.poster.posts == []


async def test_show_evidence_uploads_the_report_into_the_thread(
    harness: Harness,
) -> None:
    """Show evidence uploads the run's full report, with every cited source, as a file."""
    case = await harness.parented_case()
    run = await harness.store.record_run(
        case.id, scripted_diagnosis("web-02"), OPERATOR
    )
    await harness.call(
        SHOW_EVIDENCE, body=click(SHOW_EVIDENCE, run.id), client=harness.client
    )
    assert harness.acked_before == [[]]
    upload = harness.client.files_upload_v2.await_args.kwargs
    assert (upload["channel"], upload["thread_ts"]) == (OPS, PARENT_TS)
    assert upload["filename"] == f"migrate-diag-{run.id}.txt"
    assert (
        "-- libvirt_tls: Destination libvirt TLS certificate expired"
        in (upload["content"])
    )
    assert "[cmp-a-01:/var/log/libvirt/libvirtd.log:12]" in upload["content"]


async def test_show_evidence_of_an_unknown_run_says_so(harness: Harness) -> None:
    """A run that is not in the store: the reason, privately; nothing is uploaded."""
    await harness.call(
        SHOW_EVIDENCE, body=click(SHOW_EVIDENCE, "run-gone"), client=harness.client
    )
    assert ephemeral_texts(harness.client) == ["This run is no longer in the store."]
    harness.client.files_upload_v2.assert_not_awaited()


# --- Resolve / Reopen ---------------------------------------------------------------


async def test_resolve_acks_first_then_opens_the_modal_with_the_trigger(
    harness: Harness,
) -> None:
    case = await harness.parented_case()
    body = {**click("diag.resolve", case.id), "trigger_id": "1.2.abc"}
    await harness.call("diag.resolve", body=body, client=harness.client)
    assert harness.acked_before == [[]]
    [opened] = harness.client.views_open.await_args_list
    assert opened.kwargs["trigger_id"] == "1.2.abc"
    assert opened.kwargs["view"].callback_id == "diag.resolve-modal"


async def test_a_modal_without_a_reason_is_an_inline_error_and_writes_nothing(
    harness: Harness,
) -> None:
    case = await harness.parented_case()
    view = {
        "private_metadata": json.dumps({"case": case.id, "channel": OPS}),
        "state": {"values": {"reason": {"reason": {"value": "  "}}}},
    }
    ack = await harness.call(
        "diag.resolve-modal",
        body={"user": {"id": OPERATOR}, "view": view},
        client=harness.client,
    )
    assert ack.await_args.kwargs["response_action"] == "errors"
    assert "reason" in ack.await_args.kwargs["errors"]
    from bot.store.resolution_repo import resolution_of

    assert await resolution_of(harness.store, case.id) is None


async def test_reopen_of_an_open_case_says_there_is_nothing_to_reopen(
    harness: Harness,
) -> None:
    case = await harness.parented_case()
    await harness.call(
        "diag.reopen", body=click("diag.reopen", case.id), client=harness.client
    )
    assert ephemeral_texts(harness.client) == [
        "This case is not resolved; nothing to reopen."
    ]
