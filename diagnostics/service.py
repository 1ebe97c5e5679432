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
async def open_engine(settings: DiagnosticsSettings) -> AsyncIterator[Engine]:
    """An Engine with live clients; the clients are closed on exit."""
    clients = await asyncio.to_thread(Clients.from_settings, settings)
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
