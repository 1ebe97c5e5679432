"""The webhook's bearer token (Alertmanager's http_config.authorization) beside HMAC, over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from bot.cases.report import FailureReport
from bot.intake.webhook import (
    BEARER_REPLAY_S,
    PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookAuth,
    build_webhook_app,
    sign,
    start_webhook,
)

TOKEN = "alertmanager-bearer-token-0123456789"
SECRET = "webhook-hmac-secret"
BODY = json.dumps(
    {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "NovaMigrationFailed", "instance_uuid": "vm-1"},
                "annotations": {"summary": "live migration failed"},
                "startsAt": "2026-01-01T00:00:00Z",
            }
        ],
    }
).encode()


@dataclass(frozen=True)
class Claimed:
    case_id: str


@dataclass
class Sink:
    reports: list[FailureReport] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    async def submit(self, report: FailureReport) -> Claimed:
        self.reports.append(report)
        return Claimed(case_id=f"case-{len(self.reports)}")

    async def dead_letter(self, source: str, reason: str, body: bytes | str) -> None:
        self.dead.append(reason)


@dataclass
class Hook:
    url: str
    sink: Sink
    session: aiohttp.ClientSession

    async def post(
        self, headers: dict[str, str], body: bytes = BODY
    ) -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": "application/json", **headers}
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            return resp.status, await resp.json()


async def _hook(secret: str | None, token: str | None) -> AsyncIterator[Hook]:
    sink = Sink()
    runner, port = await start_webhook(
        build_webhook_app(sink, sink, secret, token=token), "127.0.0.1", 0
    )
    async with aiohttp.ClientSession() as session:
        yield Hook(f"http://127.0.0.1:{port}{PATH}", sink, session)
    await runner.cleanup()


@pytest.fixture
async def both() -> AsyncIterator[Hook]:
    async for hook in _hook(SECRET, TOKEN):
        yield hook


@pytest.fixture
async def token_only() -> AsyncIterator[Hook]:
    async for hook in _hook(None, TOKEN):
        yield hook


async def test_bearer_token_is_accepted(token_only: Hook) -> None:
    """Alertmanager's Authorization: Bearer: 202 and the alert becomes a report."""
    status, reply = await token_only.post({"Authorization": f"Bearer {TOKEN}"})
    assert (status, reply["accepted"]) == (202, 1)
    assert token_only.sink.reports[0].instance_uuid == "vm-1"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": f"Bearer {TOKEN}x"}, "bearer token does not match"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "bearer token does not match"),
        ({"Authorization": "Bearer "}, "bearer token does not match"),
        ({}, "missing Authorization: Bearer header"),
        ({"Authorization": f"Basic {TOKEN}"}, "missing Authorization: Bearer header"),
        (
            {"Authorization": f"Bearer {TOKEN}", TIMESTAMP_HEADER: "1000"},
            "timestamp outside the 300 s window",
        ),
    ],
)
async def test_bad_bearer_is_refused_with_the_reason(
    token_only: Hook, headers: dict[str, str], reason: str
) -> None:
    """A wrong, short, empty or missing token, or a stale timestamp: 401 and why; no report."""
    status, reply = await token_only.post(headers)
    assert (status, reply) == (401, {"error": reason})
    assert token_only.sink.reports == []


async def test_hmac_still_works_beside_the_token(both: Hook) -> None:
    """With both configured, a signed request passes and a bad signature is still refused."""
    stamp = str(int(time.time()))
    good = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, BODY)}
    assert (await both.post(good))[0] == 202
    bad = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign("other", stamp, BODY)}
    assert await both.post(bad) == (401, {"error": "signature does not match"})
    assert (await both.post({"Authorization": f"Bearer {TOKEN}"}))[0] == 202


async def test_bearer_without_a_configured_token_is_refused() -> None:
    """An HMAC-only webhook does not take bearer tokens at all."""
    async for hook in _hook(SECRET, None):
        status, reply = await hook.post({"Authorization": f"Bearer {TOKEN}"})
        assert (status, reply) == (
            401,
            {"error": "bearer tokens are not accepted here"},
        )


async def test_the_body_limit_applies_to_bearer_requests(token_only: Hook) -> None:
    """Over 1 MiB: 413 before anything is parsed, whatever the credentials."""
    status, reply = await token_only.post(
        {"Authorization": f"Bearer {TOKEN}"}, body=b" " * (1_048_576 + 1)
    )
    assert (status, reply) == (413, {"error": "body too large"})


def test_a_webhook_needs_some_credential() -> None:
    with pytest.raises(ValueError, match="HMAC secret or a bearer token"):
        WebhookAuth()


async def test_a_replayed_bearer_body_is_refused_and_a_changed_one_accepted(
    token_only: Hook,
) -> None:
    """The identical bearer body again within the window: 409 with a JSON reason, nothing
    new submitted; a body that differs (a new alert in the group) is 202."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await token_only.post(bearer))[0] == 202
    status, reply = await token_only.post(bearer)
    assert status == 409
    assert "this exact body was already accepted" in str(reply["error"])
    assert "nothing is lost" in str(reply["error"])
    assert len(token_only.sink.reports) == 1
    changed = BODY.replace(b'"vm-1"', b'"vm-2"')
    status, reply = await token_only.post(bearer, body=changed)
    assert (status, reply["accepted"]) == (202, 1)
    assert [r.instance_uuid for r in token_only.sink.reports] == ["vm-1", "vm-2"]


async def test_a_bearer_body_is_accepted_again_after_the_replay_window() -> None:
    """Alertmanager re-sends an unchanged firing group (a byte-identical body) every
    repeat_interval: past ``BEARER_REPLAY_S`` it is accepted again (the dedupe joins it
    to its case); a fresh timestamp header, when a sender adds one, is a new request."""
    clock = [time.time()]
    sink = Sink()
    runner, port = await start_webhook(
        build_webhook_app(sink, sink, None, token=TOKEN, clock=lambda: clock[0]),
        "127.0.0.1",
        0,
    )
    hook_url = f"http://127.0.0.1:{port}{PATH}"
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def post(headers: dict[str, str]) -> int:
        async with session.post(hook_url, data=BODY, headers=headers) as resp:
            return resp.status

    try:
        async with aiohttp.ClientSession() as session:
            assert await post(bearer) == 202
            clock[0] += BEARER_REPLAY_S - 1
            assert await post(bearer) == 409
            clock[0] += 2
            assert await post(bearer) == 202
            assert await post(bearer) == 409
            stamped = {**bearer, TIMESTAMP_HEADER: str(int(clock[0]))}
            assert await post(stamped) == 202
            assert await post(stamped) == 409
    finally:
        await runner.cleanup()
    assert len(sink.reports) == 3
