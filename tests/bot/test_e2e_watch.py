"""The bot follows the move its Retry started: real engine, the sim over HTTP, the stand-in.

No poller and no notifications run here: only the bot's own watch can see the move end.
A move that succeeds resolves the case once (a poller pass after it changes nothing); a
move the sim fails is reported with Nova's status and error and the case stays open; a
move that outlasts the watch's cap ends the watch with a reply that says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.actions.nova_moves import Baseline, Migration, pick_migration
from bot.actions.retry import RETRY
from bot.actions.watch import Move, baseline, follow
from bot.app import RunningBot
from bot.cases.resolution import CaseResolver
from bot.intake.poller import SdkMigrationLister
from bot.intake.successes import SuccessPoller
from bot.posting.resolution import SlackResolutionPoster
from bot.rendering import RERUN
from bot.services import Diagnoser
from bot.settings import AccessSettings, ActionsSettings, BotSettings, WatchSettings
from bot.store import Store
from bot.store.fix_repo import fixes
from bot.store.intake_repo import IntakeRepo
from bot.store.resolution_repo import ResolvedVia, resolution_of
from bot.store.timeline_repo import timeline
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.region.state import server_by_name
from sim.scenario.model import Outcome
from sim.testing import api_client, start_region
from sim.wiring import Region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import BOT_USER_ID, FakeSlack, Message

OPERATOR = "U0OPER001"
SCENARIO = "libvirt-tls-expired-cert"
HEALTHY = "cmp-a-03"  # passes every check; the scenario fails only towards cmp-a-02
FAST = WatchSettings(first_poll_s=0.05, max_poll_s=0.2)


def text_of(msg: Message) -> str:
    return json.dumps(msg.blocks, ensure_ascii=False) + msg.text


@dataclass
class Loop:
    region: Region
    bot: RunningBot
    store: Store
    fake: FakeSlack
    parent: Message
    case_id: str
    settings: BotSettings
    engine: Diagnoser

    def replies(self) -> list[Message]:
        return [
            m for m in self.fake.thread(OPS, self.parent.ts) if m.user == BOT_USER_ID
        ]

    async def retry_to(self, host: str, *, follow: bool = True) -> None:
        """`check <host>` in the thread, then the operator confirms its Retry."""
        await self.fake.mention(OPS, self.parent.ts, f"check {host}", user=OPERATOR)
        await self.bot.services.tasks.drain()
        checked = self.replies()[-1]
        assert RETRY in json.dumps(checked.blocks)
        await self.fake.click(OPS, checked.ts, RETRY, user=OPERATOR)
        await self.bot.services.tasks.drain()  # the click and the call
        if follow:
            await self.bot.services.watches.drain()  # the whole watch (bounded)


@asynccontextmanager
async def retry_loop(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    watch: WatchSettings = FAST,
    scenario: str = SCENARIO,
    vm: str = "web-02",
    **region_options: float,
) -> AsyncIterator[Loop]:
    """A failed migration of ``vm``, diagnosed in a thread; fixes on for OPERATOR."""
    async with start_region(scenario, tmp_path, **region_options) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(
            fake,
            tmp_path,
            pagerduty,
            base=base,
            access=AccessSettings(fix_users=(OPERATOR,)),
            actions=ActionsSettings(enabled=True, cloud="sim", watch=watch),
        )
        assert not settings.intake.poller.enabled
        assert not settings.intake.notifications.enabled
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", vm, user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]
                yield Loop(region, bot, store, fake, parent, case_id, settings, engine)
            finally:
                await bot.close()
                await store.close()


@pytest.mark.integration
async def test_the_bots_own_watch_resolves_the_retry_once(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """Confirmed Retry, no poller, no notifications: green through the watch, once."""
    async with retry_loop(fake, pagerduty, tmp_path) as loop:
        moves = len(loop.region.state.migrations)
        await loop.retry_to(HEALTHY)
        (new,) = loop.region.state.migrations[moves:]
        assert (new.dest_compute, new.status) == (HEALTHY, "completed")

        done = await resolution_of(loop.store, loop.case_id)
        assert done is not None
        assert done.resolved
        assert done.via is ResolvedVia.WATCH
        assert (done.migration_id, done.source_host, done.dest_host) == (
            str(new.id),
            "cmp-a-01",
            HEALTHY,
        )
        parent = text_of(fake.message(OPS, loop.parent.ts))
        assert f"migration {new.id} cmp-a-01 → {HEALTHY} succeeded" in parent
        assert "the bot following the move it started" in parent
        (audit,) = await fixes(loop.store, loop.case_id)
        assert audit.status == "accepted"
        assert audit.request_id
        texts = [m.text for m in loop.replies()]
        ran = next(t for t in texts if t.startswith("🛠"))
        assert f"live-migrate web-02 to {HEALTHY}: accepted" in ran
        progress = next(t for t in texts if t.startswith("✅ live-migrate"))
        assert f"migration `{new.id}` cmp-a-01 → {HEALTHY} `completed`" in progress
        assert sum(t.startswith("✅ *Resolved*") for t in texts) == 1

        # the poller (or a notification) seeing the same move later changes nothing
        conn = OpenStackApi.from_settings(loop.bot.services.settings.openstack).conn
        resolver = CaseResolver(loop.store, SlackResolutionPoster(loop.bot.poster))
        assert await SuccessPoller(
            SdkMigrationLister(conn), resolver, IntakeRepo(loop.store)
        ).poll_once()
        await loop.bot.services.tasks.drain()
        assert await resolution_of(loop.store, loop.case_id) == done
        texts = [m.text for m in loop.replies()]
        assert sum(t.startswith("✅ *Resolved*") for t in texts) == 1
        kinds = [e.kind for e in await timeline(loop.store, loop.case_id)]
        assert kinds.count("resolved") == 1
        assert "watch" in kinds


def _failing_towards(host: str) -> Outcome:
    """A live migration to ``host`` that Nova rolls back: pre_live_migration failed there."""
    return Outcome.model_validate(
        {
            "kind": "live-migration",
            "dest": host,
            "status": "failed",
            "message": "Error",
            "at": "now",
            "duration_s": 3,
            "events": [
                {"event": "conductor_live_migrate_instance", "result": "Success"},
                {
                    "event": "compute_pre_live_migration",
                    "result": "Error",
                    "host": "{dest}",
                    "details": "Virtual Interface creation failed",
                },
            ],
        }
    )


@pytest.mark.integration
async def test_a_retry_whose_move_fails_is_reported_and_the_case_stays_open(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """H passes every check but the move fails there: Nova's status and error, Re-run."""
    async with retry_loop(fake, pagerduty, tmp_path) as loop:
        server = server_by_name(loop.region.state, "web-02")
        server["spec"] = server["spec"].model_copy(
            update={"on_migrate": _failing_towards(HEALTHY)}
        )
        moves = len(loop.region.state.migrations)
        await loop.retry_to(HEALTHY)
        (new,) = loop.region.state.migrations[moves:]
        assert (new.dest_compute, new.status) == (HEALTHY, "failed")

        assert await resolution_of(loop.store, loop.case_id) is None
        failed = loop.replies()[-1]
        assert (
            f"migration `{new.id}` cmp-a-01 → {HEALTHY} ended `failed`" in failed.text
        )
        assert "compute_pre_live_migration: Virtual Interface creation failed" in (
            failed.text
        )
        assert "The case stays open" in failed.text
        assert f'"action_id": "{RERUN}"' in json.dumps(failed.blocks)
        assert "Resolved" not in text_of(fake.message(OPS, loop.parent.ts))
        (audit,) = await fixes(loop.store, loop.case_id)
        assert audit.status == "accepted"  # Nova took the call; the move then failed
        watched = [
            e for e in await timeline(loop.store, loop.case_id) if e.kind == "watch"
        ]
        assert [e.text for e in watched] == [
            f"live-migrate web-02 to {HEALTHY}: migration {new.id} cmp-a-01 → {HEALTHY}"
            " failed (compute_pre_live_migration: Virtual Interface creation failed)"
        ]


@pytest.mark.integration
async def test_the_watch_gives_up_after_its_cap(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A move slower than give_up_after_s: the watch stops, says so, the case stays open."""
    capped = FAST.model_copy(update={"give_up_after_s": 0.5})
    async with retry_loop(
        fake, pagerduty, tmp_path, watch=capped, move_step_s=60.0
    ) as loop:
        moves = len(loop.region.state.migrations)
        await loop.retry_to(HEALTHY)
        (new,) = loop.region.state.migrations[moves:]
        assert new.status != "completed"  # still under way when the watch stopped

        stopped = loop.replies()[-1]
        assert stopped.text.startswith("⌛ Stopped following live-migrate web-02")
        assert "(actions.watch.give_up_after_s)" in stopped.text
        assert f"migration `{new.id}` cmp-a-01 → {HEALTHY} was still" in stopped.text
        assert "The case stays open" in stopped.text
        assert await resolution_of(loop.store, loop.case_id) is None
        kinds = [e.text for e in await timeline(loop.store, loop.case_id)]
        assert f"live-migrate web-02 to {HEALTHY}: watch ended (gave_up)" in kinds


@pytest.mark.integration
async def test_a_restart_mid_watch_leaves_the_case_to_the_poller(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """The bot stops while it follows the move: the watch is cut (shutdown does not wait
    for it) and the next bot's poller resolves the case, once."""
    async with retry_loop(fake, pagerduty, tmp_path, move_step_s=1.0) as loop:
        moves = len(loop.region.state.migrations)
        await loop.retry_to(HEALTHY, follow=False)
        await loop.bot.close()  # a restart: SIGTERM mid-watch
        (new,) = loop.region.state.migrations[moves:]
        assert new.status != "completed"  # the watch was cut before the move ended
        assert not loop.bot.services.watches._tasks
        await loop.region.wait_idle()
        assert new.status == "completed"
        assert await resolution_of(loop.store, loop.case_id) is None  # nobody saw it

        bot, store = await launch(loop.settings, loop.engine, fake)  # the next bot
        try:
            conn = OpenStackApi.from_settings(loop.settings.openstack).conn
            resolver = CaseResolver(store, SlackResolutionPoster(bot.poster))
            poller = SuccessPoller(
                SdkMigrationLister(conn), resolver, IntakeRepo(store)
            )
            await poller.poll_once()
            await poller.poll_once()  # seen again: nothing more
            await bot.services.tasks.drain()
            done = await resolution_of(store, loop.case_id)
            assert done is not None
            assert (done.via, done.migration_id) == (ResolvedVia.POLLER, str(new.id))
            texts = [m.text for m in loop.replies()]
            assert sum(t.startswith("✅ *Resolved*") for t in texts) == 1
            assert not any(t.startswith("✅ live-migrate") for t in texts)
        finally:
            await bot.close()
            await store.close()


@pytest.mark.integration
async def test_a_cold_move_that_moved_waits_for_its_confirm(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A cold move ends `finished` (VERIFY_RESIZE): the thread asks for the confirm once,
    the case stays open, and the watch's cap names the wait.

    The move is started over the sim's API and handed to the watch as a fix would (a
    `check` of another host in this scenario still names the past failure's cause); the
    watch reads through a shared connection, as in `serve`, and leaves it open.
    """
    capped = FAST.model_copy(update={"give_up_after_s": 1.0})
    async with retry_loop(
        fake, pagerduty, tmp_path, watch=capped, scenario="cold-migration-ssh",
        vm="batch-01",
    ) as loop:  # fmt: skip
        shared = OpenStackApi.from_settings(loop.settings.openstack)
        services = replace(loop.bot.services, openstack=shared)
        vm_id = server_by_name(loop.region.state, "batch-01")["id"]
        case = await loop.store.get_case(loop.case_id)
        assert case is not None
        before = await baseline(services, vm_id)
        moves = len(loop.region.state.migrations)
        async with api_client(loop.region) as api:
            status, _, headers = await api.post(
                f"/compute/v2.1/servers/{vm_id}/action",
                {"migrate": {"host": "cmp-a-02"}},
                version="2.56",
            )
        assert status == 202
        move = Move(
            case=case,
            vm_id=vm_id,
            what="cold-migrate batch-01 to cmp-a-02",
            kind="migration",
            dest="cmp-a-02",
            request_id=headers["x-openstack-request-id"],
            baseline=before,
        )
        result = await follow(services, loop.bot.poster, move)
        (new,) = loop.region.state.migrations[moves:]
        assert (new.migration_type, new.status) == ("migration", "finished")
        assert result.outcome == "gave_up"
        assert result.migration is not None
        assert result.migration.id == str(new.id)

        texts = [m.text for m in loop.replies()]
        asks = [t for t in texts if t.startswith("↪️ cold-migrate batch-01 to cmp-a-02")]
        assert len(asks) == 1
        assert "waits in VERIFY_RESIZE until the resize is confirmed" in asks[0]
        assert texts[-1].startswith("⌛ Stopped following cold-migrate batch-01")
        assert "(moved, waiting in VERIFY_RESIZE for a confirm)" in texts[-1]
        assert await resolution_of(loop.store, loop.case_id) is None
        # the shared connection was left open (blocking: off the loop the sim runs on)
        still = await asyncio.to_thread(
            shared.conn.compute.get, "/os-migrations", microversion="2.59"
        )
        assert still.status_code == 200
        await asyncio.to_thread(shared.close)


NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _m(ident: str, *, kind: str = "live-migration", dest: str | None = "h1",
       created: datetime = NOW) -> Migration:  # fmt: skip
    return Migration(id=ident, status="accepted", kind=kind, source="h0", dest=dest,
                     created_at=created, updated_at=None)  # fmt: skip


@pytest.mark.parametrize(
    ("records", "known", "expected"),
    [
        pytest.param([_m("7"), _m("9")], {"7"}, "9", id="the-one-not-there-before"),
        pytest.param([_m("7")], {"7"}, None, id="nothing-new-yet"),
        pytest.param([_m("9"), _m("8")], {"7"}, "8", id="the-first-new-one"),
        pytest.param([_m("9", dest="h2")], {"7"}, None, id="another-host"),
        pytest.param([_m("9", dest=None)], {"7"}, "9", id="no-host-recorded-yet"),
        pytest.param([_m("9", kind="migration")], {"7"}, None, id="another-kind"),
        pytest.param(
            [_m("7", created=NOW - timedelta(minutes=5)), _m("9")],
            None,
            "9",
            id="unread-before-created-after",
        ),
    ],
)
def test_the_migration_of_the_call_is_picked(
    records: list[Migration], known: set[str] | None, expected: str | None
) -> None:
    """Ours: new since the call, of the call's kind, to the host it named."""
    baseline = Baseline(
        started_at=NOW, known=frozenset(known) if known is not None else None
    )
    found = pick_migration(records, baseline=baseline, kind="live-migration", dest="h1")
    assert (found.id if found else None) == expected
