"""Retry to H: live- or cold-migrate the VM to a host the bot just checked and found able.

Off by default (``actions.enabled``), run with their own credentials (``actions.cloud``),
allowed only to ``access.fix_users`` / ``fix_groups`` (empty: nobody). The button is
offered only under a ``check <host>`` answer that found nothing stopping H; its confirm
dialog names the exact call. At click time everything is checked again (the case, the VM's
state, H itself); the button's one-time token is claimed in the audit table first, so a
double click runs once. Every outcome (accepted, refused, failed) is an audit row, a
timeline entry and a thread reply; an accepted move is then followed to its end
(``bot.actions.watch``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, tell
from bot.actions.nova_moves import Baseline
from bot.actions.watch import Move, baseline, start_watch
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services
from bot.settings import BotSettings
from bot.store import CaseRecord
from bot.store.fix_repo import claim_fix, finish_fix
from bot.store.resolution_repo import resolution_of
from bot.textsafe import user_mention
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.model import (
    Diagnosis,
    DiagnosticsError,
    MigrationKind,
    MigrationRef,
    RootCauseId,
    StepStatus,
)

log = logging.getLogger(__name__)

RETRY = "diag.fix.retry"
LIVE_MICROVERSION = "2.30"  # block_migration "auto" (2.25), host without force
COLD_MICROVERSION = "2.56"  # migrate with a host


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryCall:
    """The one Nova call a Retry button makes."""

    vm_id: str
    vm_name: str
    host: str
    live: bool

    @property
    def path(self) -> str:
        return f"/servers/{self.vm_id}/action"

    @property
    def body(self) -> dict[str, Any]:
        if self.live:
            return {"os-migrateLive": {"host": self.host, "block_migration": "auto"}}
        return {"migrate": {"host": self.host}}

    @property
    def microversion(self) -> str:
        return LIVE_MICROVERSION if self.live else COLD_MICROVERSION

    def describe(self) -> str:
        word = "live-migrate" if self.live else "cold-migrate"
        return f"{word} {self.vm_name} to {self.host}"

    def exact(self) -> str:
        return (
            f"POST /compute/v2.1{self.path} (compute {self.microversion})"
            f" {json.dumps(self.body)}"
        )


TARGET_STEPS = (5, 6, 7)  # capacity and CPU, AZ and aggregates, services and probes


def target_passed(d: Diagnosis) -> bool:
    """The --target-host evaluation found H able: its steps passed and nothing concluded.

    ``unknown`` is allowed: no check recognised a cause with H as the destination (the
    earlier failure's own evidence was about its own destination); any named cause is
    not, whatever its confidence.
    """
    steps = {s.number: s.status for s in d.steps}
    cause = d.root_cause.root_cause if d.root_cause else None
    return (
        d.target_host is not None
        and all(steps.get(n) is StepStatus.PASSED for n in TARGET_STEPS)
        and cause in (None, RootCauseId.UNKNOWN)
        and not any(f.root_cause is not RootCauseId.UNKNOWN for f in d.other_findings)
    )


def offered(settings: BotSettings, d: Diagnosis) -> bool:
    """Retry is offered only when fixes are on, H passed, and Retry can repeat the kind."""
    a = settings.actions
    kind = d.migration.kind if d.migration else None
    return (
        a.enabled
        and a.cloud is not None
        and target_passed(d)
        and kind in (MigrationKind.LIVE, MigrationKind.COLD)
    )


def retry_button(case: CaseRecord, d: Diagnosis, host: str) -> ActionsBlock:
    assert d.migration is not None
    call = RetryCall(
        vm_id=d.vm.id,
        vm_name=d.vm.name,
        host=host,
        live=d.migration.kind is MigrationKind.LIVE,
    )
    text = f"Calls {call.exact()} with the actions credentials. " + (
        "A live migration that has started can only be aborted, not undone."
        if call.live
        else "The VM is shut down and moved; it waits in VERIFY_RESIZE for a confirm."
    )
    value = {"case": case.id, "host": host, "token": uuid.uuid4().hex}
    return ActionsBlock(
        elements=[
            ButtonElement(
                text=f"Retry to {host}"[:75],
                action_id=RETRY,
                value=json.dumps(value),
                style="primary",
                confirm=ConfirmObject(
                    title=f"{call.describe()}?"[:100]
                    if len(call.describe()) < 99
                    else "Retry the migration?",
                    text=text[:300],
                    confirm="Migrate",
                    deny="Cancel",
                ),
            )
        ]
    )


def _call_nova(settings: BotSettings, call: RetryCall) -> tuple[int, str | None, str]:
    """Blocking: (HTTP status, Nova's request id, what Nova said)."""
    cloud = settings.openstack.model_copy(
        update={"cloud": settings.actions.cloud, "token_cache": False}
    )
    conn = OpenStackApi.from_settings(cloud).conn
    response = conn.compute.post(
        call.path, json=call.body, microversion=call.microversion
    )
    request_id = response.headers.get("x-openstack-request-id") or response.headers.get(
        "x-compute-request-id"
    )
    said = response.text[:500] if response.status_code >= 400 else "accepted"
    return response.status_code, request_id, said


async def _still_valid(
    services: Services, poster: SlackCasePoster, case: CaseRecord, host: str
) -> tuple[RetryCall | None, str]:
    """The call to make now, or None and why not (state changed since the button)."""
    earlier = await resolution_of(services.store, case.id)
    if earlier is not None and earlier.resolved:
        return None, "the case is resolved"
    if poster.is_running(case.id):
        return None, "the case is being diagnosed right now"
    ref = MigrationRef(
        server=case.vm_id or case.vm_name,
        migration_id=case.migration_id,
        target_host=host,
        kind=case.kind,
    )
    try:
        async with services.diagnosis_slots:
            d = await services.diagnoser.diagnose(ref)
    except DiagnosticsError as exc:
        return None, f"the VM could not be checked again: {exc}"
    if not target_passed(d):
        return None, f"{host} no longer passes the checks ({d.verdict})"
    if d.vm.status != "ACTIVE":
        return None, f"the VM is {d.vm.status}, not ACTIVE"
    if d.vm.host == host:
        return None, f"the VM is on {host} already"
    if d.migration is None or d.migration.kind not in (
        MigrationKind.LIVE,
        MigrationKind.COLD,
    ):
        return None, "no live or cold migration to retry"
    call = RetryCall(
        vm_id=d.vm.id,
        vm_name=d.vm.name,
        host=host,
        live=d.migration.kind is MigrationKind.LIVE,
    )
    return call, ""


async def retry(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    value = json.loads(click.value)
    case_id, host, token = str(value["case"]), str(value["host"]), str(value["token"])
    refusal = await services.authz.check(Action.FIX, click.user, click.channel)
    if refusal is not None:
        await tell(client, click, refusal.message + " Nothing was run.")
        return
    if not services.settings.actions.enabled or services.settings.actions.cloud is None:
        await tell(
            client, click, "Fixes are turned off (actions.enabled). Nothing was run."
        )
        return
    case = await services.store.get_case(case_id)
    if case is None:
        await tell(client, click, "This case is no longer in the store.")
        return
    audit, mine = await claim_fix(
        services.store,
        case_id=case.id,
        token=token,
        user_id=click.user,
        what=f"retry to {host}",
    )
    if not mine:
        await tell(
            client,
            click,
            f"Already run by {user_mention(audit.user_id)} at {audit.at:%H:%M:%S} UTC:"
            f" {audit.status}. Nothing was run again.",
        )
        return
    call, why = await _still_valid(services, poster, case, host)
    thread = case.thread_ts or case.parent_ts
    if call is None:
        await finish_fix(
            services.store, token, status="refused", result=why, request_id=None
        )
        await tell(client, click, f"Not run: {why}.")
        if thread is not None:
            await poster.writer.post(
                case.channel,
                None,
                f"🛑 Retry to `{host}` by {user_mention(click.user)} refused: {why}.",
                thread_ts=thread,
            )
        return
    before = await baseline(services, call.vm_id)
    try:
        status, request_id, said = await asyncio.to_thread(
            _call_nova, services.settings, call
        )
    except Exception as exc:  # the cloud did not answer: say so, never retry by itself
        log.exception("retry of case %s failed", case.id)
        status, request_id, said = 0, None, f"{type(exc).__name__}: {exc}"
    outcome = "accepted" if status == 202 else "failed"
    await finish_fix(
        services.store, token, status=outcome, result=said, request_id=request_id
    )
    line = (
        f"🛠 {user_mention(click.user)} ran {call.describe()}: {outcome}"
        f" (HTTP {status or 'no answer'}"
        + (f", Nova request {request_id}" if request_id else "")
        + ")"
        + ("" if outcome == "accepted" else f": {said}")
    )
    if thread is not None:
        await poster.writer.post(case.channel, None, line, thread_ts=thread)
    if outcome == "accepted":  # the bot sees the move through, poller or not
        start_watch(services, poster, _move(case, call, request_id, before))


def _move(
    case: CaseRecord, call: RetryCall, request_id: str | None, before: Baseline
) -> Move:
    return Move(
        case=case,
        vm_id=call.vm_id,
        what=call.describe(),
        kind=(MigrationKind.LIVE if call.live else MigrationKind.COLD).value,
        dest=call.host,
        request_id=request_id,
        baseline=before,
    )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(RETRY)
    async def on_retry(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(retry(services, poster, client, click), name="fix-retry")
