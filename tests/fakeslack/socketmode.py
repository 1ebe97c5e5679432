"""Socket Mode surface of the fake: hello, envelopes, ack timing, disconnect and reconnect."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakeslack.world import APP_ID

MAX_CONNECTIONS = 10


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    latency_s: float
    payload: dict[str, Any] | None


class SocketHub:
    def __init__(self, on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        self._on_change = on_change  # FakeSlack.wait_for re-checks on (dis)connects too
        self.connections: list[web.WebSocketResponse] = []
        self.connected = asyncio.Event()
        self.connects = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.acks: list[Ack] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if len(self.connections) >= MAX_CONNECTIONS:
            await ws.send_json({"type": "disconnect", "reason": "too_many_websockets"})
            await ws.close()
            return ws
        self.connections.append(ws)
        self.connects += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.connections),
                "connection_info": {"app_id": APP_ID},
                "debug_info": {
                    "host": "fake-slack",
                    "approximate_connection_time": 3600,
                },
            }
        )
        self.connected.set()
        if self._on_change is not None:
            await self._on_change()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                future = self._pending.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
            if not self.connections:
                self.connected.clear()
            if self._on_change is not None:
                await self._on_change()
        return ws

    async def push(
        self,
        kind: str,
        payload: dict[str, Any],
        timeout: float = 3.0,  # noqa: ASYNC109 - ack deadline under test
    ) -> Ack:
        """Send an envelope to one connection (random, as Slack does) and wait for its ack."""
        await asyncio.wait_for(self.connected.wait(), timeout)
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[envelope_id] = future
        loop = asyncio.get_running_loop()
        started = loop.time()
        await random.choice(self.connections).send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        reply = await asyncio.wait_for(future, timeout)
        ack = Ack(
            envelope_id=envelope_id,
            latency_s=loop.time() - started,
            payload=reply.get("payload"),
        )
        self.acks.append(ack)
        return ack

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        self.connected.clear()
        for ws in list(self.connections):
            await ws.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
            )

    async def close(self) -> None:
        for ws in list(self.connections):
            await ws.close()
