"""Abort / Force complete a live migration that does not converge: the clicks.

The buttons are on the root-cause card (``bot.fixes.offers``); a click is the
shared safe-fix flow (``bot.actions.safe_fix``). At click time Nova is asked again, with
the fixes' credentials: the VM must still be migrating and the migration still
``running`` (``GET /servers/{id}/migrations/{mid}``, 2.24: only an in-progress live
migration is found there), else the click is refused with what Nova says now. An
accepted call is followed to its end (``bot.actions.watch``): a forced completion
resolves the case like any successful move; an abort ends ``cancelled`` and the case
stays open (the VM is where it was, the cause is not gone), and the intake's later reports
of that cancelled migration join this case rather than open another.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click
from bot.actions.nova_moves import Baseline
from bot.actions.safe_fix import FixClick, Planned, run_fix
from bot.actions.watch import Move
from bot.cases.dedupe import dedupe_keys
from bot.cases.report import FailureReport, ReportSource
from bot.fixes.calls import Answer, CloudCall, connect, path_of, request
from bot.fixes.offers import (
    ABORT,
    ABORT_MICROVERSION,
    FORCE_COMPLETE,
    RunningMove,
    abort_call,
    force_complete_call,
)
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services
from bot.settings import BotSettings
from bot.store import CaseRecord
from bot.store.intake_repo import IntakeRepo
from bot.times import utcnow
from diagnostics.model import MigrationKind
from diagnostics.verdict import MIGRATION_ID


def _read_now(settings: BotSettings, vm_id: str, mid: str) -> RunningMove | str:
    """The migration as Nova shows it now (blocking), or why it may not be touched."""
    api = connect(settings)
    try:
        shown = request(
            api,
            CloudCall(
                service="compute",
                method="GET",
                path=path_of("/servers/{}", vm_id),
                microversion=ABORT_MICROVERSION,
            ),
        )
        if shown.status != 200 or not isinstance(shown.body, dict):
            return f"Nova would not show the VM now (HTTP {shown.status})"
        server = shown.body.get("server") or {}
        task = server.get("OS-EXT-STS:task_state")
        if task != "migrating":
            return f"the VM is no longer migrating (task_state {task})"
        found = request(
            api,
            CloudCall(
                service="compute",
                method="GET",
                path=path_of("/servers/{}/migrations/{}", vm_id, mid),
                microversion=ABORT_MICROVERSION,
            ),
        )
    finally:
        api.close()
    if found.status == 404:
        return f"migration {mid} is no longer in progress"
    if found.status != 200 or not isinstance(found.body, dict):
        return f"Nova would not show migration {mid} now (HTTP {found.status})"
    m = found.body.get("migration") or {}
    if m.get("status") != "running":
        return f"migration {mid} is {m.get('status')}, not running"
    return RunningMove(
        vm_id=vm_id,
        vm_name=str(server.get("name") or vm_id),
        migration_id=mid,
        source=str(m.get("source_compute") or "the source host"),
        dest=str(m.get("dest_compute") or "the destination host"),
    )


async def _recheck(
    services: Services, case: CaseRecord, mid: str, force: bool
) -> Planned | str:
    if not MIGRATION_ID.fullmatch(mid) or case.vm_id is None:
        return "the button names no migration of this case's VM"
    now = await asyncio.to_thread(_read_now, services.settings, case.vm_id, mid)
    if isinstance(now, str):
        return now
    if force:
        describe = f"force live migration {mid} of {now.vm_name} to complete"
        call, ends = force_complete_call(now), frozenset[str]()
    else:
        describe = f"abort live migration {mid} of {now.vm_name}"
        call, ends = abort_call(now), frozenset({"cancelled"})

    def follow(request_id: str | None, before: Baseline) -> Move:
        return Move(
            case=case,
            vm_id=now.vm_id,
            what=describe,
            kind=MigrationKind.LIVE.value,
            dest=now.dest,
            request_id=request_id,
            baseline=before,
            migration_id=mid,
            ends=ends,
        )

    async def accepted(answer: Answer) -> None:
        if not force:  # the cancelled record Nova is about to write is this case's
            await _own_the_cancellation(services, case, mid, answer.request_id)

    return Planned(
        call=call,
        describe=describe,
        follow_vm=now.vm_id,
        follow=follow,
        accepted=accepted,
    )


async def _own_the_cancellation(
    services: Services, case: CaseRecord, mid: str, abort_request: str | None
) -> None:
    """Reports of the aborted migration (the poller's cancelled record, Nova's
    live_migration_abort.end under the abort's request, live_migration_rollback.end
    under the move's) join this case instead of opening a new one: the operator aborted
    it from here, on purpose."""
    runs = await services.store.latest_runs(case.id, limit=1)
    move = runs[0].diagnosis.migration if runs else None
    reports = [
        FailureReport(
            source=ReportSource.POLLER,
            migration_id=mid,
            migration_uuid=move.uuid if move and move.id == mid else None,
            instance_uuid=case.vm_id,
            request_id=request_id,
        )
        for request_id in (abort_request, move.request_id if move else None)
    ]
    keys = {key for report in reports for key in dedupe_keys(report)}
    await IntakeRepo(services.store).link(case.id, keys, source="fix", now=utcnow())


async def _click(
    services: Services,
    poster: SlackCasePoster,
    client: AsyncWebClient,
    click: Click,
    force: bool,
) -> None:
    word = "force complete" if force else "abort"
    mid = str(json.loads(click.value).get("migration", ""))
    fix = FixClick.of(click, lambda _v: f"{word} migration {mid}"[:200])
    await run_fix(
        services,
        poster,
        client,
        click,
        fix,
        lambda case: _recheck(services, case, mid, force),
    )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(ABORT)
    async def on_abort(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            _click(services, poster, client, click, force=False), name="fix-abort"
        )

    @app.action(FORCE_COMPLETE)
    async def on_force_complete(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            _click(services, poster, client, click, force=True),
            name="fix-force-complete",
        )
