"""Resolved cases, end to end: real engine, the sim over HTTP, the Slack stand-in.

A later successful migration (found by the success poller in /os-migrations) turns the
parent green and names it; Resolve (modal) and Reopen by an authorised user; an
unauthorised one is refused and changes nothing; resolved survives a restart; Re-run on a
resolved case says so; a new failure of the VM opens a new case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.actions.resolve import MODAL, REASON_BLOCK, REASON_INPUT
from bot.cases.report import FailureReport, ReportSource
from bot.cases.resolution import CaseResolver
from bot.intake.amqp import NotificationConsumer
from bot.intake.poller import SdkMigrationLister
from bot.intake.successes import SuccessPoller
from bot.posting.resolution import SlackResolutionPoster
from bot.settings import AccessSettings, BotSettings
from bot.store import Store
from bot.store.intake_repo import IntakeRepo
from bot.store.resolution_repo import ResolvedVia, resolution_of
from bot.store.timeline_repo import timeline
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.region.state import server_by_name
from sim.testing import api_client, start_region
from tests.bot.conftest import OPS
from tests.bot.support import PagerDutyEndpoint, bot_settings, launch
from tests.fakeslack import FakeSlack, Message
from tests.intake.harness import broker

pytestmark = pytest.mark.integration
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
OPERATOR = "U0OPER001"
STRANGER = "U0STRANGE"
SCENARIO = "libvirt-tls-expired-cert"
HEALTHY = "cmp-a-03"  # the scenario fails only towards cmp-a-02


def text_of(msg: Message) -> str:
    return json.dumps(msg.blocks, ensure_ascii=False) + msg.text


def has_button(msg: Message, action_id: str) -> bool:
    return f'"action_id": "{action_id}"' in json.dumps(msg.blocks)


async def test_a_later_successful_migration_resolves_the_case(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    async with start_region(SCENARIO, tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            try:
                await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]
                assert "Resolved" not in text_of(parent)
                assert has_button(parent, "diag.resolve")
                lister = SdkMigrationLister(
                    OpenStackApi.from_settings(settings.openstack).conn
                )
                resolver = CaseResolver(store, SlackResolutionPoster(bot.poster))
                poller = SuccessPoller(lister, resolver, IntakeRepo(store))
                # nothing has succeeded yet: the poller resolves nothing
                assert await poller.poll_once() == 0
                assert await resolution_of(store, case_id) is None

                vm = server_by_name(region.state, "web-02")
                async with api_client(region) as api:
                    status, _, _ = await api.post(
                        f"/compute/v2.1/servers/{vm['id']}/action",
                        {
                            "os-migrateLive": {
                                "host": HEALTHY,
                                "block_migration": "auto",
                            }
                        },
                        version="2.96",
                    )
                assert status == 202
                await region.wait_idle()
                assert await poller.poll_once() == 1
                await bot.services.tasks.drain()

                resolved = await fake.wait_for(
                    lambda: (
                        "Resolved" in text_of(m := fake.message(OPS, parent.ts)) and m
                    )
                )
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.resolved
                assert done.by is None
                assert done.dest_host == HEALTHY
                assert done.source_host == "cmp-a-01"
                mig = done.migration_id
                assert mig
                assert f"migration {mig} cmp-a-01 → {HEALTHY}" in text_of(resolved)
                assert resolved.blocks[0]["text"]["text"].startswith("✅ Resolved")
                assert has_button(resolved, "diag.reopen")
                assert not has_button(resolved, "diag.resolve")
                note = fake.thread(OPS, parent.ts)[-1]
                assert f"migration {mig}" in note.text
                assert "Resolved" in note.text
                # seen again on the next pass (the overlap): still one resolution, one note
                await poller.poll_once()
                await bot.services.tasks.drain()
                notes = [m for m in fake.thread(OPS, parent.ts) if "Resolved" in m.text]
                assert len(notes) == 1
                kinds = [e.kind for e in await timeline(store, case_id)]
                assert kinds[0] == "opened"
                assert kinds[-1] == "resolved"
                assert "diagnosed" in kinds
            finally:
                await bot.close()
                await store.close()


async def test_resolve_and_reopen_by_hand_survive_a_restart(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
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
                before = fake.message(OPS, parent.ts).blocks

                # an unauthorised click: refused, no modal, nothing changes
                await fake.click(OPS, parent.ts, "diag.resolve", user=STRANGER)
                await bot.services.tasks.drain()
                refusal = next(e for e in fake.world.ephemeral if e["user"] == STRANGER)
                assert "not allowed to resolve" in refusal["text"]
                assert fake.world.views == {}
                assert await resolution_of(store, case_id) is None
                assert fake.message(OPS, parent.ts).blocks == before

                # the operator: a modal, then the reason
                await fake.click(OPS, parent.ts, "diag.resolve", user=OPERATOR)
                await bot.services.tasks.drain()
                ((view_id, view),) = fake.world.views.items()
                assert view["callback_id"] == MODAL
                assert fake.calls("views.open")[-1].ok
                # a stranger submitting the same modal is refused at submission too
                await fake.submit_view(
                    view_id,
                    user=STRANGER,
                    values={REASON_BLOCK: {REASON_INPUT: "not mine to close"}},
                )
                await bot.services.tasks.drain()
                assert await resolution_of(store, case_id) is None
                # an empty reason is an inline error, nothing is written
                ack = await fake.submit_view(
                    view_id, user=OPERATOR, values={REASON_BLOCK: {REASON_INPUT: " "}}
                )
                assert ack.payload["response_action"] == "errors"  # type: ignore[union-attr]
                assert await resolution_of(store, case_id) is None
                await fake.submit_view(
                    view_id,
                    user=OPERATOR,
                    values={REASON_BLOCK: {REASON_INPUT: "moved by hand to cmp-a-03"}},
                )
                await bot.services.tasks.drain()
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.resolved
                assert done.by == OPERATOR
                resolved = fake.message(OPS, parent.ts)
                assert "moved by hand to cmp-a-03" in text_of(resolved)
                assert f"<@{OPERATOR}>" in text_of(resolved)
                assert has_button(resolved, "diag.reopen")

                # Re-run on a resolved case says so and runs nothing
                runs = len(await store.latest_runs(case_id, limit=10))
                await fake.click(OPS, parent.ts, "diag.rerun", user=OPERATOR)
                await bot.services.tasks.drain()
                said = [e for e in fake.world.ephemeral if e["user"] == OPERATOR]
                assert "This case is resolved" in said[-1]["text"]
                assert len(await store.latest_runs(case_id, limit=10)) == runs
            finally:
                await bot.close()
                await store.close()

            # restart: a new process, the same store; the case is still resolved
            bot, store = await launch(settings, engine, fake)
            try:
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.resolved
                await bot.poster.refresh_parent(case_id)
                assert "Resolved" in text_of(fake.message(OPS, parent.ts))
                # unauthorised reopen: refused
                await fake.click(OPS, parent.ts, "diag.reopen", user=STRANGER)
                await bot.services.tasks.drain()
                assert (await resolution_of(store, case_id)).resolved  # type: ignore[union-attr]
                await fake.click(OPS, parent.ts, "diag.reopen", user=OPERATOR)
                await bot.services.tasks.drain()
                again = await resolution_of(store, case_id)
                assert again is not None
                assert not again.resolved
                reopened = fake.message(OPS, parent.ts)
                assert not reopened.blocks[0]["text"]["text"].startswith("✅")
                assert has_button(reopened, "diag.resolve")
                kinds = [e.kind for e in await timeline(store, case_id)]
                assert kinds[-2:] == ["resolved", "reopened"]
            finally:
                await bot.close()
                await store.close()


async def test_a_new_failure_of_a_resolved_vm_opens_a_new_case(tmp_path: Path) -> None:
    """The intake's join by instance skips a resolved case (real store, real claim)."""
    from bot.cases.manager import CaseManager

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")
    try:
        settings = BotSettings.model_validate({"slack": {"default_channel": OPS}})
        cases = CaseManager(settings, store, None, None)  # type: ignore[arg-type]
        now = datetime.now(UTC)

        def failure(migration: str | None, minutes: int) -> FailureReport:
            return FailureReport(
                source=ReportSource.POLLER,
                migration_id=migration,
                instance_uuid="vm-1",
                status="error",
                occurred_at=now + timedelta(minutes=minutes),
                received_at=now + timedelta(minutes=minutes),
            )

        first = await cases.submit(failure("11", 0))
        # a report naming only the VM (an alert, say) joins the open case
        same_vm = await cases.submit(failure(None, 1))
        assert same_vm.case_id == first.case_id
        from bot.store.resolution_repo import resolve

        assert await resolve(store, first.case_id, reason="fixed", by=OPERATOR)
        fresh = await cases.submit(failure(None, 2))
        assert fresh.new
        assert fresh.case_id != first.case_id
    finally:
        await store.close()


class _Reports:
    """The failure side of the consumer (a successful move reports no failure)."""

    def __init__(self) -> None:
        self.reports: list[FailureReport] = []

    async def submit(self, report: FailureReport) -> object:
        self.reports.append(report)
        return None


async def test_nova_notifications_of_a_successful_move_resolve_the_case(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """The sim publishes what nova-compute does for a live migration that went through
    (real RabbitMQ); the consumer's success hook resolves the case from post_dest.end."""
    # names of its own on the shared broker: another region's notifications (the same
    # scenario has the same VM uuids) never reach this consumer
    async with (
        broker() as names,
        start_region(
            SCENARIO, tmp_path, amqp_url=AMQP_URL,
            amqp_exchange=names.exchange, amqp_topic=names.topic,
        ) as region,
    ):  # fmt: skip
        base = load_settings(region.paths["config"], BotSettings)
        settings = bot_settings(fake, tmp_path, pagerduty, base=base)
        async with open_engine(settings) as engine:
            bot, store = await launch(settings, engine, fake)
            reports = _Reports()
            consumer = NotificationConsumer(
                names.config("md-loop"),
                reports,  # type: ignore[arg-type]
                IntakeRepo(store),
                successes=CaseResolver(store, SlackResolutionPoster(bot.poster)),
            )
            await consumer.start()
            try:
                await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
                await bot.services.tasks.drain()
                (parent,) = fake.history(OPS)
                case_id = parent.blocks[1]["elements"][0]["text"].split("`")[-2]
                vm = server_by_name(region.state, "web-02")
                async with api_client(region) as api:
                    status, _, _ = await api.post(
                        f"/compute/v2.1/servers/{vm['id']}/action",
                        {
                            "os-migrateLive": {
                                "host": HEALTHY,
                                "block_migration": "auto",
                            }
                        },
                        version="2.96",
                    )
                assert status == 202
                await region.wait_idle()
                published = [e for _, e, _ in region.state.notifications]
                assert published[-1] == "instance.live_migration_post_dest.end"
                assert "instance.live_migration_post.end" in published
                resolved = await fake.wait_for(
                    lambda: (
                        "Resolved" in text_of(m := fake.message(OPS, parent.ts)) and m
                    )
                )
                assert f"{HEALTHY}" in text_of(resolved)
                assert "seen by the notification" in text_of(resolved)
                done = await resolution_of(store, case_id)
                assert done is not None
                assert done.via is ResolvedVia.NOTIFICATION
                assert done.dest_host == HEALTHY
                assert reports.reports == []  # a move that went through is no failure
            finally:
                await consumer.stop(delete_queues=True)
                await bot.close()
                await store.close()
