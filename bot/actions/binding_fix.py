"""Remove the stale INACTIVE port binding on the destination: the click.

The button is on the root-cause card (``bot.fixes.offers``); a click is the shared
safe-fix flow (``bot.actions.safe_fix``). At click time, with the fixes' credentials:
the VM has no move under way (task_state None: a running move's destination binding is
its own) and does not run on that host, and Neutron still has the binding, INACTIVE.
Then ``DELETE /v2.0/ports/{port}/bindings/{host}``; current Neutron policy lets only the
service role delete a binding (Nova does it with its service user), so ``actions.cloud``
needs that role: an admin-only cloud gets Neutron's 403, audited as failed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click
from bot.actions.safe_fix import FixClick, Planned, run_fix
from bot.fixes.calls import CloudCall, connect, path_of, request
from bot.fixes.offers import REMOVE_BINDING, binding_call
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services
from bot.settings import BotSettings
from bot.store import CaseRecord
from diagnostics.remedies import UUID
from diagnostics.verdict import HOST_NAME


def _read_now(settings: BotSettings, vm_id: str, port: str, host: str) -> str | None:
    """Why the binding may not be removed now (blocking), or None."""
    api = connect(settings)
    try:
        shown = request(
            api,
            CloudCall(
                service="compute", method="GET", path=path_of("/servers/{}", vm_id)
            ),
        )
        if shown.status != 200 or not isinstance(shown.body, dict):
            return f"Nova would not show the VM now (HTTP {shown.status})"
        server = shown.body.get("server") or {}
        task = server.get("OS-EXT-STS:task_state")
        if task is not None:
            return f"a move of the VM is under way (task_state {task})"
        if server.get("OS-EXT-SRV-ATTR:host") == host:
            return f"the VM runs on {host} now"
        binding = request(
            api,
            CloudCall(
                service="network",
                method="GET",
                path=path_of("/ports/{}/bindings/{}", port, host),
            ),
        )
    finally:
        api.close()
    if binding.status == 404:
        return f"the binding is gone: port {port} has no binding on {host}"
    if binding.status != 200 or not isinstance(binding.body, dict):
        return f"Neutron would not show the binding now (HTTP {binding.status})"
    status = (binding.body.get("binding") or {}).get("status")
    if status != "INACTIVE":
        return f"the binding of port {port} on {host} is {status}, not INACTIVE"
    return None


async def _recheck(
    services: Services, case: CaseRecord, port: str, host: str
) -> Planned | str:
    if not UUID.match(port) or not HOST_NAME.fullmatch(host) or case.vm_id is None:
        return "the button names no port binding of this case's VM"
    why = await asyncio.to_thread(_read_now, services.settings, case.vm_id, port, host)
    if why is not None:
        return why
    return Planned(
        call=binding_call(port, host),
        describe=f"remove the INACTIVE binding of port {port} on {host}",
    )


async def remove_binding(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    value = json.loads(click.value)
    port, host = str(value.get("port", "")), str(value.get("host", ""))
    fix = FixClick.of(click, lambda _v: f"remove binding of {port} on {host}"[:200])
    await run_fix(
        services,
        poster,
        client,
        click,
        fix,
        lambda case: _recheck(services, case, port, host),
    )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(REMOVE_BINDING)
    async def on_remove_binding(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            remove_binding(services, poster, client, click), name="fix-remove-binding"
        )
