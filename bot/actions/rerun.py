"""Re-run: diagnose the case again in the same thread and say what changed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, allowed_case, tell
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import RERUN, resolved_line
from bot.services import Services
from bot.store.resolution_repo import resolution_of
from diagnostics.model import DiagnosticsError, MigrationRef

log = logging.getLogger(__name__)


async def rerun_case(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    case = await allowed_case(services, client, click, Action.RERUN)
    if case is None:
        return
    earlier = await resolution_of(services.store, case.id)
    if earlier is not None and earlier.resolved:
        await tell(
            client,
            click,
            "This case is resolved; Reopen it to diagnose again. "
            + resolved_line(earlier),
        )
        return
    if poster.is_running(case.id):
        await tell(
            client,
            click,
            "This case is being diagnosed right now; wait for it to finish.",
        )
        return
    ref = MigrationRef(
        server=case.vm_id or case.vm_name,
        migration_id=case.migration_id,
        target_host=case.target_host,
        kind=case.kind,
    )
    try:
        await poster.post_case(
            case.id, ref, case.channel, requested_by=click.user, source=case.source
        )
    except DiagnosticsError as exc:
        await tell(client, click, f"Re-run failed before it started: {exc}")


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(RERUN)
    async def on_rerun(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            rerun_case(services, poster, client, click), name=f"rerun-{click.value}"
        )
