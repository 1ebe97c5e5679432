"""A storm's cause groups live in the store: two replicas on one storm post one reply per
group, and a replica that restarts mid-storm brings the parent up to date without waiting
for a new member (PostgreSQL and SQLite, the real writer, the Slack stand-in)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import build_client
from bot.causes import CauseKey
from bot.pacing import ChannelPacer
from bot.posting.incidents import render_storm_parent
from bot.posting.storm import LEASE_S, StormBoard
from bot.posting.writer import SlackWriter
from bot.settings import BotSettings
from bot.store.repo import Store
from bot.store.storm_repo import StormRepo
from bot.times import utcnow
from tests.bot.support import SECRETS
from tests.bot.test_storm_board import TITLES, diagnosis_of
from tests.fakeslack import FakeSlack

pytestmark = pytest.mark.integration

OPS = "C0OPS0001"
CAUSES = list(TITLES)


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(post_rate_per_s=50, post_burst=5)
    fake.world.add_channel(OPS, "ops")
    await fake.start()
    yield fake
    await fake.stop()


def _writer(slack: FakeSlack, *, retries: int = 3) -> SlackWriter:
    settings = BotSettings.model_validate(
        {"slack": {"api_base_url": slack.api_url, "retries": retries}}
    )
    client = build_client(settings, SECRETS.bot_token)
    return SlackWriter(client, ChannelPacer(rate_per_s=40, burst=4))


def _board(
    slack: FakeSlack, store: Store, owner: str, *, retries: int = 3, **kw: object
) -> StormBoard:
    return StormBoard(
        _writer(slack, retries=retries),
        store,
        render_storm_parent,
        updates_per_min=6000,
        owner=owner,
        **kw,  # type: ignore[arg-type]
    )


async def _record(board: StormBoard, parent: str, n: int) -> None:
    vm = f"vm-{n:03d}"
    await board.record(
        OPS,
        parent,
        case_id=f"case-{n}",
        vm=vm,
        diagnosis=diagnosis_of(vm, CAUSES[n % 3]),
        run_id=None,
    )


async def test_two_replicas_on_one_storm_post_one_reply_per_group(
    slack: FakeSlack, store_url: str
) -> None:
    """30 members of 3 causes, written by two replicas at once: 3 group replies, and the
    parent counts all 30 (whichever replica refreshed it)."""
    one, two = await Store.open(store_url), await Store.open(store_url)
    a, b = _board(slack, one, "replica-a"), _board(slack, two, "replica-b")
    try:
        parent = await a.writer.post(OPS, None, "storm")
        await a.expect(
            OPS, parent, count=30, title="t", incident_id="inc-1", opened_at="now"
        )
        await asyncio.gather(
            *(_record(a if n % 2 else b, parent, n) for n in range(30))
        )
        for board in (a, b, a):
            await board.flush(OPS, parent)
    finally:
        await a.close()
        await b.close()
        await one.close()
        await two.close()
    replies = slack.thread(OPS, parent)
    assert sorted(m.text for m in replies) == sorted(
        f"10 VMs: `{c}` on cmp-a-02 — {t}" for c, t in TITLES.items()
    )
    assert len(slack.calls("chat.postMessage")) == 1 + 3
    final = slack.message(OPS, parent).text
    assert final.startswith("30 VMs failed: 10 `")
    assert "still being diagnosed" not in final


async def test_a_group_reply_is_claimed_by_exactly_one_replica(store_url: str) -> None:
    """Two replicas claim the same group's reply at once: one claim lands."""
    one, two = await Store.open(store_url), await Store.open(store_url)
    try:
        key = CauseKey("libvirt_tls", "libvirt.tls", None, ("cmp-a-02",))
        board_id = await StormRepo(one).add_member(
            OPS,
            "1.0",
            key,
            case_id="c",
            label="vm",
            title="t",
            example_run_id=None,
            now=utcnow(),
        )
        board = await StormRepo(one).board(board_id)
        assert board is not None
        (group,) = board.groups
        now = utcnow()
        claims = await asyncio.gather(
            StormRepo(one).claim_reply(group.id, "replica-a", now=now, lease_s=30),
            StormRepo(two).claim_reply(group.id, "replica-b", now=now, lease_s=30),
        )
        assert sorted(claims) == [False, True]
        # a claim whose holder died (its lease ran out) can be taken over
        later = now + timedelta(seconds=31)
        loser = "replica-b" if claims[0] else "replica-a"
        assert await StormRepo(two).claim_reply(group.id, loser, now=later, lease_s=30)
    finally:
        await one.close()
        await two.close()


async def test_a_restarted_replica_brings_the_parent_up_to_date(
    slack: FakeSlack, store_url: str
) -> None:
    """A replica stores 6 more members but dies before Slack shows them (every update
    refused); the replica that starts next resumes the board: the parent and the replies
    count all 9 without any new member, and no reply is posted twice."""
    store = await Store.open(store_url)
    dying = _board(slack, store, "replica-a", retries=0)
    try:
        parent = await dying.writer.post(OPS, None, "storm")
        await dying.expect(
            OPS, parent, count=9, title="t", incident_id="inc-1", opened_at="now"
        )
        for n in range(3):
            await _record(dying, parent, n)
        await dying.flush(OPS, parent)
        assert slack.message(OPS, parent).text.startswith("9 VMs failed: 1 `")
        slack.inject("chat.update", status=500, times=10**6)
        for n in range(3, 9):
            await _record(dying, parent, n)
    finally:
        await dying.close()  # killed: its refresher stops, its lease is left to run out
        await store.close()
    assert slack.message(OPS, parent).text.startswith("9 VMs failed: 1 `")
    slack.clear_injections()

    store = await Store.open(store_url)  # the restarted replica
    after_lease = utcnow() + timedelta(seconds=LEASE_S + 1)
    started = _board(slack, store, "replica-a2", clock=lambda: after_lease)
    try:
        assert await started.resume() == 1
        await slack.wait_for(
            lambda: (
                slack.message(OPS, parent).text.startswith("9 VMs failed: 3 `")
                and all(m.text.startswith("3 VMs") for m in slack.thread(OPS, parent))
            ),
            timeout=30,
        )
        assert "still being diagnosed" not in slack.message(OPS, parent).text
        assert len(slack.thread(OPS, parent)) == 3
        assert len(slack.calls("chat.postMessage")) == 1 + 3
    finally:
        await started.close()
        await store.close()
