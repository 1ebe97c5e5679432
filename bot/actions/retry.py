"""Retry to H: live- or cold-migrate the VM to a host the bot just checked and found able.

Off by default (``actions.enabled``), run with their own credentials (``actions.cloud``),
allowed only to ``access.fix_users`` / ``fix_groups`` (empty: nobody). The button is
offered only under a ``check <host>`` answer that found nothing stopping H; its confirm
dialog names the exact call. At click time everything is checked again (the case, the VM's
state, H itself). The click itself is the shared safe-fix flow (``bot.actions.safe_fix``:
access rule, one-time token, audit, thread reply); an accepted move is then followed to
its end (``bot.actions.watch``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.blocks import ActionsBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click
from bot.actions.nova_moves import Baseline
from bot.actions.safe_fix import FixClick, Planned, run_fix
from bot.actions.watch import Move
from bot.fixes.calls import CloudCall, fix_button, path_of
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services
from bot.settings import BotSettings
from bot.store import CaseRecord
from diagnostics.model import (
    Diagnosis,
    DiagnosticsError,
    Finding,
    MigrationKind,
    MigrationRef,
    RootCauseId,
    StepStatus,
)
from diagnostics.steps import cause_line

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

    def cloud_call(self) -> CloudCall:
        return CloudCall(
            service="compute",
            method="POST",
            path=path_of("/servers/{}/action", self.vm_id),
            body=self.body,
            microversion=self.microversion,
        )

    def exact(self) -> str:
        return self.cloud_call().exact()


TARGET_STEPS = (5, 6, 7)  # capacity and CPU, AZ and aggregates, services and probes


def target_passed(d: Diagnosis) -> bool:
    """The --target-host evaluation found H able: its steps passed and nothing stops H.

    ``unknown`` is allowed, and so is a cause of the earlier failure on its own
    destination (a finding about that host, not H): it explains why that move failed
    and says nothing about H. Any other named cause (about H, or about the VM itself:
    its state, a device that cannot move) is not, whatever its confidence.
    """
    failed_at = d.migration.dest_host if d.migration is not None else None
    findings = [f for f in (d.root_cause, *d.other_findings) if f is not None]

    def past(f: Finding) -> bool:
        """A cause of the earlier failure on its own destination, not H."""
        return f.about_host is not None and f.about_host == failed_at != d.target_host

    stops_h = [
        f for f in findings if f.root_cause is not RootCauseId.UNKNOWN and not past(f)
    ]
    # the cause step lists the primary by steps.cause_line
    explained = {
        t
        for f in findings
        if past(f)
        for t in (f.title, cause_line(f), cause_line(f, d.target_host))
    }
    # a target step passes, or holds only the earlier failure's own findings
    steps = {
        s.number: s.status is StepStatus.PASSED
        or (bool(s.findings) and set(s.findings) <= explained)
        for s in d.steps
    }
    return (
        d.target_host is not None
        and all(steps.get(n, False) for n in TARGET_STEPS)
        and not stops_h
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


def retry_button(case: CaseRecord, d: Diagnosis, host: str) -> ActionsBlock | None:
    """The button, or None when its exact call would not fit in the dialog."""
    assert d.migration is not None
    call = RetryCall(
        vm_id=d.vm.id,
        vm_name=d.vm.name,
        host=host,
        live=d.migration.kind is MigrationKind.LIVE,
    )
    consequence = (
        "A live migration that has started can only be aborted, not undone."
        if call.live
        else "The VM is shut down and moved; it waits in VERIFY_RESIZE for a confirm."
    )
    title = f"{call.describe()}?"
    button = fix_button(
        label=f"Retry to {host}",
        action_id=RETRY,
        value={"case": case.id, "host": host},
        title=title if len(title) <= 100 else "Retry the migration?",
        call=call.cloud_call(),
        consequence=consequence,
        confirm="Migrate",
        style="primary",
    )
    return ActionsBlock(elements=[button]) if button is not None else None


async def _recheck(services: Services, case: CaseRecord, host: str) -> Planned | str:
    """The move to make now, or why not: the VM and H checked again as they are now."""
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
        return f"the VM could not be checked again: {exc}"
    if not target_passed(d):
        return f"{host} no longer passes the checks ({d.verdict})"
    if d.vm.status != "ACTIVE":
        return f"the VM is {d.vm.status}, not ACTIVE"
    if d.vm.host == host:
        return f"the VM is on {host} already"
    if d.migration is None or d.migration.kind not in (
        MigrationKind.LIVE,
        MigrationKind.COLD,
    ):
        return "no live or cold migration to retry"
    call = RetryCall(
        vm_id=d.vm.id,
        vm_name=d.vm.name,
        host=host,
        live=d.migration.kind is MigrationKind.LIVE,
    )
    return Planned(
        call=call.cloud_call(),
        describe=call.describe(),
        follow_vm=call.vm_id,  # the bot sees the move through, poller or not
        follow=lambda request_id, before: _move(case, call, request_id, before),
    )


async def retry(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    host = str(json.loads(click.value)["host"])
    fix = FixClick.of(click, lambda _v: f"retry to {host}")
    await run_fix(
        services,
        poster,
        client,
        click,
        fix,
        lambda case: _recheck(services, case, host),
    )


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
