"""What every fix button does, in one place: who may, once only, checked again, audited.

A click runs :func:`run_fix`:

1. the fix access rule (``access.fix_users`` / ``fix_groups``; empty: nobody) and
   ``actions.enabled`` — a refusal changes nothing and writes nothing;
2. the button's one-time token is claimed in ``fix_audit`` (a second delivery of the same
   click, or a double click, finds the row and runs nothing);
3. re-validation at click time: the case is not resolved nor being diagnosed, then the
   fix's own check of the cloud as it is now (``Recheck``); a refusal says why, in the
   clicker's ephemeral reply and in the thread, and is audited;
4. the one call, with the fixes' credentials; the outcome (accepted or failed, HTTP
   status, the service's request id, its words) is the audit row, a timeline entry and a
   thread reply;
5. an accepted call runs the fix's own follow-up (``Planned.accepted``), and one that
   starts or changes a migration is followed to its end (``bot.actions.watch``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, tell
from bot.actions.nova_moves import Baseline
from bot.actions.watch import Move, baseline, start_watch
from bot.authz import Action
from bot.fixes.calls import Answer, CloudCall, send
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services
from bot.store import CaseRecord
from bot.store.fix_repo import claim_fix, finish_fix
from bot.store.resolution_repo import resolution_of
from bot.textsafe import escaped_within, user_mention

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    """The call to make now, as re-validation found the cloud."""

    call: CloudCall
    describe: (
        str  # "abort live migration 7 of cache-02": the audit and the thread say it
    )
    # an accepted call that starts or changes a migration: the VM whose move to follow,
    # and how to name the move for the watch (given Nova's request id and the baseline)
    follow_vm: str | None = None
    follow: Callable[[str | None, Baseline], Move] | None = None
    # run once the service accepted the call (before the watch starts)
    accepted: Callable[[Answer], Awaitable[None]] | None = None


# the fix's own re-validation: the call to make, or why not (said as "Not run: <why>.")
Recheck = Callable[[CaseRecord], Awaitable[Planned | str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class FixClick:
    """A click on a fix button: the case, the button's token, what the audit calls it."""

    case_id: str
    token: str
    what: str  # "retry to cmp-a-03", "abort migration 7"

    @classmethod
    def of(cls, click: Click, what: Callable[[dict[str, str]], str]) -> FixClick:
        value = json.loads(click.value)
        fields = {k: str(v) for k, v in value.items()}
        return cls(case_id=fields["case"], token=fields["token"], what=what(fields))


async def still_open(
    services: Services, poster: SlackCasePoster, case: CaseRecord
) -> str | None:
    """Why no fix may run on the case now (resolved, being diagnosed), or None."""
    earlier = await resolution_of(services.store, case.id)
    if earlier is not None and earlier.resolved:
        return "the case is resolved"
    if poster.is_running(case.id):
        return "the case is being diagnosed right now"
    return None


async def run_fix(
    services: Services,
    poster: SlackCasePoster,
    client: AsyncWebClient,
    click: Click,
    fix: FixClick,
    recheck: Recheck,
) -> None:
    """One click on a fix button, from the access rule to the thread reply."""
    refusal = await services.authz.check(Action.FIX, click.user, click.channel)
    if refusal is not None:
        await tell(client, click, refusal.message + " Nothing was run.")
        return
    if not services.settings.actions.enabled or services.settings.actions.cloud is None:
        await tell(
            client, click, "Fixes are turned off (actions.enabled). Nothing was run."
        )
        return
    case = await services.store.get_case(fix.case_id)
    if case is None:
        await tell(client, click, "This case is no longer in the store.")
        return
    audit, mine = await claim_fix(
        services.store,
        case_id=case.id,
        token=fix.token,
        user_id=click.user,
        what=fix.what,
    )
    if not mine:
        await tell(
            client,
            click,
            f"Already run by {user_mention(audit.user_id)} at {audit.at:%H:%M:%S} UTC:"
            f" {audit.status}. Nothing was run again.",
        )
        return
    why = await still_open(services, poster, case)
    planned = await recheck(case) if why is None else why
    thread = case.thread_ts or case.parent_ts
    if isinstance(planned, str):
        await finish_fix(
            services.store, fix.token, status="refused", result=planned, request_id=None
        )
        await tell(client, click, f"Not run: {planned}.")
        if thread is not None:
            await poster.writer.post(
                case.channel,
                None,
                f"🛑 {escaped_within(fix.what, 200)} by {user_mention(click.user)}"
                f" refused: {escaped_within(planned, 600)}.",
                thread_ts=thread,
            )
        return
    before = (
        await baseline(services, planned.follow_vm)
        if planned.follow is not None and planned.follow_vm is not None
        else None
    )
    answer = await _send(services, case, planned.call)
    outcome = "accepted" if answer.status == planned.call.accepted else "failed"
    await finish_fix(
        services.store,
        fix.token,
        status=outcome,
        result=answer.said,
        request_id=answer.request_id,
    )
    if thread is not None:
        await poster.writer.post(
            case.channel,
            None,
            _ran_line(click.user, planned, answer, outcome),
            thread_ts=thread,
        )
    if outcome == "accepted" and planned.accepted is not None:
        await planned.accepted(answer)
    if outcome == "accepted" and planned.follow is not None and before is not None:
        start_watch(services, poster, planned.follow(answer.request_id, before))


async def _send(services: Services, case: CaseRecord, call: CloudCall) -> Answer:
    try:
        return await asyncio.to_thread(send, services.settings, call)
    except Exception as exc:  # the cloud did not answer: say so, never retry by itself
        log.exception("fix on case %s failed", case.id)
        return Answer(status=0, request_id=None, said=f"{type(exc).__name__}: {exc}")


def _ran_line(user: str, planned: Planned, answer: Answer, outcome: str) -> str:
    service = planned.call.answered_by
    return (
        f"🛠 {user_mention(user)} ran {escaped_within(planned.describe, 300)}: {outcome}"
        f" (HTTP {answer.status or 'no answer'}"
        + (f", {service} request {answer.request_id}" if answer.request_id else "")
        + ")"
        + ("" if outcome == "accepted" else f": {escaped_within(answer.said, 600)}")
    )
