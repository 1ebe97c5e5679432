"""Abort / Force complete a live migration that does not converge, end to end.

Real engine, the sim over HTTP (its migration really is cancelled or completed), the
Slack stand-in. The buttons are on the root-cause card only for a running live migration
whose progress stopped falling; an unauthorised click changes nothing; a double click
calls Nova once; a click after the state changed is refused with what Nova says now;
every outcome is an audit row with Nova's request id.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cases.dedupe import JoinRules, sighting
from bot.cases.resolution import CaseResolver
from bot.fixes.offers import ABORT, FORCE_COMPLETE, REMOVE_BINDING
from bot.intake.amqp import NotificationConsumer
from bot.intake.oslo import report_from_body
from bot.intake.poller import report_from_migration
from bot.posting.resolution import SlackResolutionPoster
from bot.settings import AccessSettings, ActionsSettings, BotSettings, WatchSettings
from bot.store import Store
from bot.store.fix_repo import fixes
from bot.store.intake_repo import IntakeRepo
from bot.store.resolution_repo import ResolvedVia, resolution_of
from bot.store.timeline_repo import timeline
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.region.state import server_by_name
from sim.testing import api_client, start_region
from sim.wiring import Region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, RunningBot, bot_settings, launch
from tests.fakeslack import BOT_USER_ID, FakeSlack, Message
from tests.intake.harness import broker

pytestmark = pytest.mark.integration
OPERATOR = "U0OPER001"
STRANGER = "U0STRANGE"
RUNNING = "live-migration-not-converging"
FAST = WatchSettings(first_poll_s=0.05, max_poll_s=0.2)
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def buttons(msg: Message) -> set[str]:
    return {
        e["action_id"]
        for b in msg.blocks
        if b.get("type") == "actions"
        for e in b["elements"]
    }


def confirm_of(msg: Message, action_id: str) -> str:
    (e,) = [
        e
        for b in msg.blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]
    return str(e["confirm"]["text"]["text"])


@dataclass
class Case:
    region: Region
    bot: RunningBot
    store: Store
    fake: FakeSlack
    parent: Message
    case_id: str

    def replies(self) -> list[Message]:
        return [
            m for m in self.fake.thread(OPS, self.parent.ts) if m.user == BOT_USER_ID
        ]

    def card(self) -> Message:
        return next(
            m
            for m in reversed(self.replies())
            if "Root cause" in m.text + json.dumps(m.blocks)
        )

    def said_to(self, user: str) -> list[str]:
        return [e["text"] for e in self.fake.world.ephemeral if e["user"] == user]

    async def click(self, msg: Message, action_id: str, user: str = OPERATOR) -> None:
        await self.fake.click(OPS, msg.ts, action_id, user=user)
        await self.bot.services.tasks.drain()
        await self.region.wait_idle()
        await self.bot.services.watches.drain()  # the watch after the compute acted
        await self.bot.services.tasks.drain()


@asynccontextmanager
async def diagnosed(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    scenario: str,
    vm: str,
    cloud: str = "sim",
) -> AsyncIterator[Case]:
    """The scenario's VM diagnosed through the slash command, fixes on for OPERATOR."""
    async with start_region(scenario, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(
            fake,
            tmp_path,
            pagerduty,
            base=base,
            access=AccessSettings(fix_users=(OPERATOR,)),
            actions=ActionsSettings(enabled=True, cloud=cloud, watch=FAST),
        )
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", vm, user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]
                yield Case(region, bot, store, fake, parent, case_id)
            finally:
                await bot.close()
                await store.close()


def _migration(region: Region):
    server = server_by_name(region.state, "cache-02")
    (m,) = [m for m in region.state.migrations if m.instance_uuid == server["id"]]
    return server, m


async def test_abort_a_migration_that_does_not_converge(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """Abort and Force complete are on the card; the stranger changes nothing; a double
    click aborts once (cancelled, audited with Nova's req- id); Force complete after it
    is refused with what Nova says now."""
    async with diagnosed(fake, pagerduty, tmp_path, RUNNING, "cache-02") as case:
        card = case.card()
        assert {ABORT, FORCE_COMPLETE} <= buttons(card)
        assert REMOVE_BINDING not in buttons(card)  # the running move's own binding
        server, m = _migration(case.region)
        abort_text = confirm_of(card, ABORT)
        assert (
            f"DELETE /compute/v2.1/servers/{server['id']}/migrations/{m.id} (compute 2.24)"
            in abort_text
        )
        assert "cannot be undone" in abort_text
        force_text = confirm_of(card, FORCE_COMPLETE)
        assert (
            f"POST /compute/v2.1/servers/{server['id']}/migrations/{m.id}/action"
            ' (compute 2.22) {"force_complete": null}' in force_text
        )
        assert "pauses the VM" in force_text
        assert "Cannot be undone" in force_text

        await case.click(card, ABORT, user=STRANGER)
        assert "Nothing was run" in case.said_to(STRANGER)[-1]
        assert m.status == "running"
        assert await fixes(case.store, case.case_id) == []

        # a double click: two deliveries of the same button, one abort
        await case.fake.click(OPS, card.ts, ABORT, user=OPERATOR)
        await case.click(card, ABORT)
        assert m.status == "cancelled"
        assert (server["status"], server["task_state"], server["host"]) == (
            "ACTIVE",
            None,
            "cmp-a-01",
        )
        cancels = [
            a for a in case.region.state.actions if a.action == "live_migration_cancel"
        ]
        assert len(cancels) == 1
        assert any(
            t.startswith(f"Already run by <@{OPERATOR}>")
            for t in case.said_to(OPERATOR)
        )
        (audit,) = await fixes(case.store, case.case_id)
        assert (audit.status, audit.user_id) == ("accepted", OPERATOR)
        assert audit.request_id == cancels[0].request_id
        assert audit.request_id.startswith("req-")
        lines = [r.text for r in case.replies()]
        ran = next(t for t in lines if t.startswith("🛠"))
        assert (
            f"abort live migration {m.id} of cache-02: accepted (HTTP 202, Nova request {audit.request_id})"
            in ran
        )
        assert any(
            f"migration `{m.id}` cmp-a-01 → cmp-a-03 `cancelled`" in t
            and "stays open" in t
            for t in lines
        )
        assert (await resolution_of(case.store, case.case_id)) is None

        # the intake's own sightings of the aborted migration join this case: the
        # poller's cancelled record and nova-compute's abort/rollback notifications
        async with api_client(case.region) as api:
            _, listed, _ = await api.get(
                f"/compute/v2.1/os-migrations?instance_uuid={server['id']}", "2.80"
            )
        now = datetime.now(UTC)
        sightings = [report_from_migration(listed["migrations"][0], now=now)] + [
            report_from_body(json.dumps(envelope))
            for _, event, envelope in case.region.state.notifications
            if event
            in (
                "instance.live_migration_abort.end",
                "instance.live_migration_rollback.end",
            )
        ]
        assert len(sightings) == 3
        repo = IntakeRepo(case.store)
        for report in sightings:
            assert report is not None
            claim = await repo.claim(
                sighting(report),
                JoinRules(report, timedelta(minutes=10), now),
                channel=None,
                due_at=now,
                now=now,
            )
            assert (claim.case_id, claim.new) == (case.case_id, False)

        # the other button, after the state changed: refused with Nova's current word
        await case.click(card, FORCE_COMPLETE)
        assert case.said_to(OPERATOR)[-1] == (
            "Not run: the VM is no longer migrating (task_state None)."
        )
        assert m.status == "cancelled"
        assert [a.status for a in await fixes(case.store, case.case_id)] == [
            "accepted",
            "refused",
        ]
        fixed = [
            e.text for e in await timeline(case.store, case.case_id) if e.kind == "fix"
        ]
        assert fixed[0].startswith(f"abort migration {m.id}: accepted")
        assert f"[request {audit.request_id}]" in fixed[0]
        assert fixed[1].startswith(f"force complete migration {m.id}: refused")


async def test_force_complete_finishes_the_move_and_resolves(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """Force complete: the sim's migration completes on the destination, the watch
    resolves the case; Abort after it is refused (the case is resolved)."""
    async with diagnosed(fake, pagerduty, tmp_path, RUNNING, "cache-02") as case:
        card = case.card()
        server, m = _migration(case.region)
        await case.click(card, FORCE_COMPLETE)
        assert m.status == "completed"
        assert server["host"] == "cmp-a-03"
        done = await resolution_of(case.store, case.case_id)
        assert done is not None
        assert done.resolved
        assert done.migration_id == str(m.id)
        (audit,) = await fixes(case.store, case.case_id)
        assert audit.status == "accepted"
        assert audit.request_id
        await case.click(card, ABORT)
        assert case.said_to(OPERATOR)[-1] == "Not run: the case is resolved."
        assert [a.action for a in case.region.state.actions].count(
            "live_migration_cancel"
        ) == 0


@pytest.mark.parametrize(
    ("scenario", "vm"),
    [
        pytest.param("migration-timeout", "cache-01", id="cancelled-migration"),
        pytest.param("cold-migration-ssh", "batch-01", id="cold-migration"),
    ],
)
async def test_not_offered_when_no_live_migration_runs(
    fake: FakeSlack,
    pagerduty: PagerDutyEndpoint,
    tmp_path: Path,
    scenario: str,
    vm: str,
) -> None:
    """A migration that already ended (even a timed-out one) or a cold one: no Abort,
    no Force complete."""
    async with diagnosed(fake, pagerduty, tmp_path, scenario, vm) as case:
        offered = set().union(*(buttons(r) for r in case.replies()))
        assert not offered & {ABORT, FORCE_COMPLETE}


STALE = "stale-leftovers"


async def test_remove_the_stale_binding(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """The card offers the removal of the INACTIVE binding Neutron shows on the
    destination; the stranger changes nothing; a double click deletes it once (audited
    with Neutron's req- id); an older button after that is refused (the binding is gone);
    a re-run no longer offers it."""
    async with diagnosed(
        fake, pagerduty, tmp_path, STALE, "queue-01", cloud="sim-service"
    ) as case:
        first = case.card()
        assert REMOVE_BINDING in buttons(first)
        assert not buttons(first) & {ABORT, FORCE_COMPLETE}
        server = server_by_name(case.region.state, "queue-01")
        port = server["port_ids"][0]
        bindings = case.region.state.port_bindings[port]
        (stale,) = [h for h, b in bindings.items() if b["status"] == "INACTIVE"]
        text = confirm_of(first, REMOVE_BINDING)
        assert f"DELETE /network/v2.0/ports/{port}/bindings/{stale}" in text
        assert "the VM's ACTIVE binding stays" in text
        assert "Cannot be undone" in text
        await case.click(case.parent, "diag.rerun")  # a second card, its own token
        second = case.card()
        assert second.ts != first.ts
        assert REMOVE_BINDING in buttons(second)

        await case.click(first, REMOVE_BINDING, user=STRANGER)
        assert "Nothing was run" in case.said_to(STRANGER)[-1]
        assert stale in bindings

        await case.fake.click(OPS, first.ts, REMOVE_BINDING, user=OPERATOR)
        await case.click(first, REMOVE_BINDING)
        assert stale not in bindings
        assert server["host"] in bindings  # the ACTIVE binding is untouched
        assert any(
            t.startswith(f"Already run by <@{OPERATOR}>")
            for t in case.said_to(OPERATOR)
        )
        (audit,) = await fixes(case.store, case.case_id)
        assert audit.status == "accepted"
        assert audit.request_id
        assert audit.request_id.startswith("req-")
        ran = next(r.text for r in case.replies() if r.text.startswith("🛠"))
        assert (
            f"remove the INACTIVE binding of port {port} on {stale}: accepted"
            f" (HTTP 204, Neutron request {audit.request_id})" in ran
        )

        await case.click(second, REMOVE_BINDING)
        assert case.said_to(OPERATOR)[-1] == (
            f"Not run: the binding is gone: port {port} has no binding on {stale}."
        )
        assert [a.status for a in await fixes(case.store, case.case_id)] == [
            "accepted",
            "refused",
        ]
        await case.click(case.parent, "diag.rerun")
        assert REMOVE_BINDING not in buttons(case.card())


async def test_without_the_service_role_neutron_refuses(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """actions.cloud with admin only: Neutron's 403 is the audited outcome; nothing changes."""
    async with diagnosed(fake, pagerduty, tmp_path, STALE, "queue-01") as case:
        server = server_by_name(case.region.state, "queue-01")
        before = dict(case.region.state.port_bindings[server["port_ids"][0]])
        await case.click(case.card(), REMOVE_BINDING)
        (audit,) = await fixes(case.store, case.case_id)
        assert audit.status == "failed"
        assert "delete_port_binding is disallowed by policy" in audit.result
        assert case.region.state.port_bindings[server["port_ids"][0]] == before


async def test_no_removal_offered_without_a_stale_binding(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """A failure that left no binding behind offers no removal."""
    async with diagnosed(
        fake, pagerduty, tmp_path, "libvirt-tls-expired-cert", "web-02"
    ) as case:
        assert not set().union(*(buttons(r) for r in case.replies())) & {
            REMOVE_BINDING,
            ABORT,
            FORCE_COMPLETE,
        }


class _Reports:
    """The failure side of the consumer (a completed move reports no failure)."""

    def __init__(self) -> None:
        self.reports: list[object] = []

    async def submit(self, report: object) -> object:
        self.reports.append(report)
        return None


async def test_a_forced_completion_notifies_as_nova_does(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """Force complete on the sim publishes nova-compute's notifications on real RabbitMQ
    (force_complete.*, then live_migration_post(_dest).*): the bot's consumer resolves the
    case from post_dest.end, as for any move that went through."""
    async with (
        broker() as names,
        start_region(
            RUNNING, tmp_path, amqp_url=AMQP_URL,
            amqp_exchange=names.exchange, amqp_topic=names.topic,
        ) as region,
    ):  # fmt: skip
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            reports = _Reports()
            consumer = NotificationConsumer(
                names.config("md-force"),
                reports,  # type: ignore[arg-type]
                IntakeRepo(store),
                successes=CaseResolver(store, SlackResolutionPoster(bot.poster)),
            )
            await consumer.start()
            try:
                await fake.slash(
                    "/migrate-diag", "cache-02", user=OPERATOR, channel=OPS
                )
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]
                server, m = _migration(region)
                async with api_client(region) as api:
                    status, _, _ = await api.post(
                        f"/compute/v2.1/servers/{server['id']}/migrations/{m.id}/action",
                        {"force_complete": None},
                        version="2.22",
                    )
                assert status == 202
                await region.wait_idle()
                published = [e for _, e, _ in region.state.notifications][-6:]
                assert published == [
                    "instance.live_migration_force_complete.start",
                    "instance.live_migration_force_complete.end",
                    "instance.live_migration_post.start",
                    "instance.live_migration_post.end",
                    "instance.live_migration_post_dest.start",
                    "instance.live_migration_post_dest.end",
                ]
                await fake.wait_for(
                    lambda: (
                        "Resolved" in json.dumps(fake.message(OPS, parent.ts).blocks)
                    )
                )
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.via is ResolvedVia.NOTIFICATION
                assert done.dest_host == "cmp-a-03"
                assert reports.reports == []
            finally:
                await consumer.stop(delete_queues=True)
                await bot.close()
                await store.close()
