"""Escalate: page on-call through PagerDuty, mention the on-call group, record it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, allowed_case
from bot.authz import Action
from bot.cards import handoff_summary, render_handoff
from bot.escalation import dedup_key_for
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import ESCALATE, fit
from bot.services import Services


async def escalate_case(
    services: Services, client: AsyncWebClient, click: Click
) -> None:
    case = await allowed_case(services, client, click, Action.ESCALATE)
    if case is None:
        return
    runs = await services.store.latest_runs(case.id, limit=1)
    diagnosis = runs[0].diagnosis if runs else None
    dedup_key = dedup_key_for(case.id)
    migration = diagnosis.migration if diagnosis else None
    result = await services.pager.trigger(
        dedup_key=dedup_key,
        summary=handoff_summary(diagnosis, case.vm_name),
        source=(
            migration.source_host
            if migration and migration.source_host
            else case.vm_name
        ),
        severity="error",
        custom_details={
            "case_id": case.id,
            "vm": case.vm_name,
            "vm_id": case.vm_id,
            "verdict": diagnosis.verdict if diagnosis else None,
            "migration_id": migration.id if migration else case.migration_id,
            "escalated_by_slack_user": click.user,
            "slack_channel": case.channel,
            "slack_thread_ts": case.thread_ts or case.parent_ts,
        },
    )
    await services.store.record_escalation(
        case.id, user_id=click.user, dedup_key=dedup_key, status=result.status
    )
    blocks = render_handoff(
        diagnosis,
        case_id=case.id,
        vm_name=case.vm_name,
        escalated_by=click.user,
        oncall_group=services.settings.escalation.oncall_group,
        status=result.status,
    )
    await services.pacer.wait(case.channel)
    await client.chat_postMessage(
        channel=case.channel,
        thread_ts=case.thread_ts or case.parent_ts,
        blocks=fit(blocks),
        text=f"Escalated case {case.id} to on-call",
    )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(ESCALATE)
    async def on_escalate(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            escalate_case(services, client, click), name=f"escalate-{click.value}"
        )
