"""SlackCasePoster: the engine's progress goes to a queue; Slack drains it in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.authz import Authorizer
from bot.pacing import ChannelPacer
from bot.posting.case_poster import SlackCasePoster
from bot.posting.writer import DeliveryFailed
from bot.services import OnEvent, Services
from bot.settings import AccessSettings, BotSettings, SlackSettings
from bot.slots import DiagnosisSlots
from bot.store import Store
from diagnostics.model import Diagnosis, DiagnosisStarted, MigrationRef, ProgressEvent
from diagnostics.registry import STEP_TITLES
from tests.bot.support import ScriptedDiagnoser, scripted_diagnosis

OPS = "C0OPS0001"


class WatchedDiagnoser(ScriptedDiagnoser):
    """The scripted diagnoser, checking that the progress callback never suspends.

    Each callback coroutine is stepped once by hand: a callback that only enqueues
    finishes in that step; one that waits (on Slack, the pacer, a lock) does not, and
    is noted in ``waited`` instead of hanging the test.
    """

    def __init__(self) -> None:
        super().__init__()
        self.returned = asyncio.Event()
        self.waited: list[str] = []

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        async def stepped_once(event: ProgressEvent) -> None:
            assert on_event is not None
            callback = on_event(event)
            try:
                callback.send(None)  # type: ignore[attr-defined]
            except StopIteration:
                return
            callback.close()  # type: ignore[attr-defined]
            self.waited.append(type(event).__name__)

        diagnosis = await super().diagnose(ref, stepped_once)
        self.returned.set()
        return diagnosis


class GatedSlack:
    """A Web API client whose chat.postMessage waits until the gate opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.posts: list[dict[str, Any]] = []
        self.client = AsyncMock(spec=AsyncWebClient)
        self.client.chat_postMessage.side_effect = self._post

    async def _post(self, **kwargs: Any) -> dict[str, Any]:
        self.posts.append(kwargs)
        await self.gate.wait()
        return {"ok": True, "ts": f"1700000000.{len(self.posts):06d}"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
    yield store
    await store.close()


def services(store: Store, diagnoser: ScriptedDiagnoser, client: Any) -> Services:
    settings = BotSettings().model_copy(
        update={"slack": SlackSettings(update_interval_s=0.0)}
    )
    return Services(
        settings=settings,
        diagnoser=diagnoser,
        store=store,
        pager=AsyncMock(),
        pacer=ChannelPacer(rate_per_s=1000, burst=100),
        authz=Authorizer(AccessSettings(), client),
        diagnosis_slots=DiagnosisSlots(1),
    )


async def test_the_engine_finishes_while_slack_is_still_posting(store: Store) -> None:
    """Every progress event is taken while the parent's post is still blocked in Slack."""
    slack, diagnoser = GatedSlack(), WatchedDiagnoser()
    poster = SlackCasePoster(slack.client, services(store, diagnoser, slack.client))
    posting = asyncio.create_task(
        poster.post_case("case-1", MigrationRef(server="web-02"), OPS)
    )
    await diagnoser.returned.wait()
    assert diagnoser.waited == []  # the engine never waited on Slack
    assert [p.get("thread_ts") for p in slack.posts] == [None]  # the parent, blocked
    assert not posting.done()
    slack.gate.set()
    await posting
    texts = [p["text"] for p in slack.posts]
    assert texts[0] == "Diagnosing VM migration of web-02…"
    # after the parent, in order: the failed step's details, then the root-cause card
    assert texts[1].startswith("Step 7 ")
    assert texts[2].startswith("Root cause: libvirt_tls (confirmed)")
    parent_ts = "1700000000.000001"
    assert {p.get("thread_ts") for p in slack.posts[1:]} == {parent_ts}
    case = await store.get_case("case-1")
    assert case is not None
    assert case.parent_ts == parent_ts


class HangingDiagnoser(ScriptedDiagnoser):
    """Starts (the parent is posted), then collects forever, until cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = False

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        d = scripted_diagnosis("web-02")
        assert on_event is not None
        await on_event(
            DiagnosisStarted(
                diagnosis_id=d.id,
                vm=d.vm,
                migration=d.migration,
                steps=tuple(STEP_TITLES.items()),
            )
        )
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


async def test_a_refused_parent_stops_the_diagnosis_and_reaches_the_caller(
    store: Store,
) -> None:
    """Slack refuses the parent: the collection is cancelled, post_case raises the reason."""
    client = AsyncMock(spec=AsyncWebClient)
    client.chat_postMessage.side_effect = SlackApiError(
        "not_in_channel", {"ok": False, "error": "not_in_channel"}
    )
    diagnoser = HangingDiagnoser()
    poster = SlackCasePoster(client, services(store, diagnoser, client))
    with pytest.raises(DeliveryFailed) as failure:
        await poster.post_case("case-2", MigrationRef(server="web-02"), OPS)
    assert (failure.value.reason, failure.value.permanent) == ("not_in_channel", True)
    assert diagnoser.cancelled  # no point collecting what cannot be shown
    assert client.chat_postMessage.await_count == 1  # a permanent error: no retry
    assert await store.latest_runs("case-2") == []  # no run recorded for an unseen case
    assert not poster.is_running("case-2")
