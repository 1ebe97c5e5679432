"""Build a ready Engine from settings: the one entry point the CLI and the bot use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from diagnostics.engine import Engine
from diagnostics.evidence.clients import Clients
from diagnostics.plugins import bundled_checks, bundled_collectors
from diagnostics.settings import DiagnosticsSettings


@asynccontextmanager
async def open_engine(
    settings: DiagnosticsSettings, *, keep_ssh: bool = False
) -> AsyncIterator[Engine]:
    """An Engine with live clients; the clients are closed on exit.

    ``keep_ssh``: SSH connections outlive a diagnosis (the serving bot; see ``HostShell``).
    """
    clients = await asyncio.to_thread(
        Clients.from_settings, settings, keep_ssh=keep_ssh
    )
    try:
        yield Engine(
            settings=settings,
            bootstrap=clients.openstack,
            clients=clients,
            collectors=bundled_collectors(),
            checks=bundled_checks(),
            session=clients.session,
        )
    finally:
        await asyncio.to_thread(clients.close)
