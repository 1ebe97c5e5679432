"""POST /hooks/migration-failed over loopback HTTP: signature, generic and Alertmanager bodies."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.cases.manager import CaseManager
from bot.intake.webhook import (
    PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_webhook_app,
    sign,
    start_webhook,
)
from bot.store.repo import Store
from tests.intake.conftest import RecordingIncidents, RecordingPoster, bot_settings

SECRET = "webhook-test-secret"


@dataclass
class Hook:
    url: str
    cases: CaseManager
    session: aiohttp.ClientSession

    async def post(
        self, body: bytes, *, secret: str = SECRET, timestamp: int | None = None
    ) -> tuple[int, dict[str, object]]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
            "Content-Type": "application/json",
        }
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def hook(sqlite_store: Store) -> AsyncIterator[Hook]:
    cases = CaseManager(
        bot_settings(), sqlite_store, RecordingPoster(), RecordingIncidents()
    )
    runner, port = await start_webhook(
        build_webhook_app(cases, cases.intake, SECRET), "127.0.0.1", 0
    )
    async with aiohttp.ClientSession() as session:
        yield Hook(f"http://127.0.0.1:{port}{PATH}", cases, session)
    await runner.cleanup()


async def test_generic_body_makes_a_case(hook: Hook) -> None:
    """A signed generic JSON report is accepted (202) and stored as one case."""
    body = json.dumps(
        {"instance_uuid": "vm-1", "migration_uuid": "mig-1", "source_host": "cmp-1",
         "kind": "live-migration", "status": "failed"}
    ).encode()  # fmt: skip
    stamp = int(time.time())
    status, reply = await hook.post(body, timestamp=stamp)
    assert status == 202
    assert reply["accepted"] == 1
    # the same report again, signed afresh (a retry of the sender): the same case
    again, second = await hook.post(body, timestamp=stamp - 1)
    assert again == 202
    assert second["cases"] == reply["cases"]
    assert await hook.cases.intake.count_cases() == 1


async def test_alertmanager_body_makes_one_case_per_firing_alert(hook: Hook) -> None:
    """Alertmanager's webhook: firing alerts become cases from labels; resolved ones do not."""
    alert = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "MigrationFailed", "instance_uuid": "vm-a",
             "host": "cmp-9"}, "annotations": {"description": "NoValidHost: no hosts"},
             "startsAt": "2026-08-21T10:00:00Z"},
            {"status": "firing", "labels": {"instance_uuid": "vm-b", "migration_id": "77"},
             "annotations": {}},
            {"status": "resolved", "labels": {"instance_uuid": "vm-c"}, "annotations": {}},
        ],
    }  # fmt: skip
    status, reply = await hook.post(json.dumps(alert).encode())
    assert status == 202
    assert reply["accepted"] == 2
    assert await hook.cases.intake.count_cases() == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (b"[]", "body is not a JSON object"),
        (b'{"source_host": "cmp-1"}', "names neither an instance"),
        (b'{"instance_uuid": "vm-1", "kind": "teleport"}', "unknown migration kind"),
        (b'{"alerts": "nope"}', "alerts is not a list"),
    ],
)
async def test_malformed_body_is_400_with_reason(
    hook: Hook, body: bytes, reason: str
) -> None:
    """A signed but malformed body is answered 400 with the reason, and dead-lettered."""
    status, reply = await hook.post(body)
    assert status == 400
    assert reason in str(reply["error"])
    assert [r for _, r in await hook.cases.intake.dead_letters() if reason in r]


@pytest.mark.parametrize(
    ("secret", "age_s", "reason"),
    [
        ("wrong-secret", 0, "signature does not match"),
        (SECRET, 301, "timestamp outside the 300 s window"),
        (SECRET, -301, "timestamp outside the 300 s window"),
    ],
)
async def test_bad_signature_is_401(
    hook: Hook, secret: str, age_s: int, reason: str
) -> None:
    """A wrong secret or a stale/future timestamp is refused with 401 and stores nothing."""
    body = b'{"instance_uuid": "vm-1"}'
    status, reply = await hook.post(
        body, secret=secret, timestamp=int(time.time()) - age_s
    )
    assert (status, reply["error"]) == (401, reason)
    assert await hook.cases.intake.count_cases() == 0


async def test_missing_headers_is_401(hook: Hook) -> None:
    """No signature headers at all: 401, saying the headers are missing."""
    headers = {"Content-Type": "application/json"}
    async with hook.session.post(hook.url, data=b"{}", headers=headers) as resp:
        assert resp.status == 401
        reply = await resp.json()
        assert reply["error"] == "missing signature or timestamp header"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonp"],
)
async def test_only_json_is_read(hook: Hook, content_type: str | None) -> None:
    """Anything but application/json (or none at all) is 415 with a JSON reason."""
    body = b'{"instance_uuid": "vm-1"}'
    stamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with hook.session.post(hook.url, data=body, headers=headers) as resp:
        assert resp.status == 415
        assert resp.content_type == "application/json"
        assert await resp.json() == {"error": "Content-Type must be application/json"}
    assert await hook.cases.intake.count_cases() == 0


async def test_json_with_a_charset_is_read(hook: Hook) -> None:
    body = b'{"instance_uuid": "vm-1", "migration_uuid": "mig-cs"}'
    stamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(SECRET, stamp, body),
        "Content-Type": "application/json; charset=utf-8",
    }
    async with hook.session.post(hook.url, data=body, headers=headers) as resp:
        assert resp.status == 202


async def test_a_replayed_signature_is_refused(hook: Hook) -> None:
    """The very same signed request again inside the window: 409 with the reason."""
    body = b'{"instance_uuid": "vm-1", "migration_uuid": "mig-replay"}'
    stamp = int(time.time())
    assert (await hook.post(body, timestamp=stamp))[0] == 202
    status, reply = await hook.post(body, timestamp=stamp)
    assert status == 409
    assert "replayed request" in str(reply["error"])
    assert await hook.cases.intake.count_cases() == 1


async def test_replays_are_refused_across_replicas(pg_url: str) -> None:
    """Two replicas on one PostgreSQL: a request accepted by one is refused by the other."""
    stores = [await Store.open(pg_url), await Store.open(pg_url)]
    runners, urls = [], []
    for store in stores:
        cases = CaseManager(
            bot_settings(), store, RecordingPoster(), RecordingIncidents()
        )
        app = build_webhook_app(cases, cases.intake, SECRET, replays=cases.intake)
        runner, port = await start_webhook(app, "127.0.0.1", 0)
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}{PATH}")
    body = b'{"instance_uuid": "vm-1", "migration_uuid": "mig-shared"}'
    stamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(SECRET, stamp, body),
        "Content-Type": "application/json",
    }
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(urls[0], data=body, headers=headers) as resp:
                assert resp.status == 202
            async with session.post(urls[1], data=body, headers=headers) as resp:
                assert resp.status == 409
    finally:
        for runner in runners:
            await runner.cleanup()
        for store in stores:
            await store.close()


BEARER = "alertmanager-bearer-token-for-replays"
ALERT_BODY = json.dumps(
    {"version": "4", "groupKey": '{}:{alertname="NovaMigrationFailed"}',
     "status": "firing", "receiver": "migrate-diag",
     "alerts": [{"status": "firing", "labels": {"alertname": "NovaMigrationFailed",
                 "instance_uuid": "vm-am", "migration_uuid": "mig-am"},
                 "annotations": {}, "startsAt": "2026-01-01T00:00:00Z",
                 "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "c0ffee"}]}
).encode()  # fmt: skip


async def _bearer_replicas(
    url: str, count: int
) -> tuple[list[Store], list[CaseManager], list[web.AppRunner], list[str]]:
    stores = [await Store.open(url) for _ in range(count)]
    managers, runners, urls = [], [], []
    for store in stores:
        cases = CaseManager(
            bot_settings(), store, RecordingPoster(), RecordingIncidents()
        )
        app = build_webhook_app(
            cases, cases.intake, None, token=BEARER, replays=cases.intake
        )
        runner, port = await start_webhook(app, "127.0.0.1", 0)
        managers.append(cases)
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}{PATH}")
    return stores, managers, runners, urls


async def test_a_replayed_bearer_body_is_refused_through_sqlite(tmp_path: Path) -> None:
    """Alertmanager's bearer requests, two replicas on one SQLite store: the identical
    body → 409 with a JSON reason and no new case row; a changed body → 202."""
    await _bearer_replay_across(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}")


async def test_a_replayed_bearer_body_is_refused_across_postgresql_replicas(
    pg_url: str,
) -> None:
    """The same on PostgreSQL: the replica that did not accept the body refuses it."""
    await _bearer_replay_across(pg_url)


async def _bearer_replay_across(url: str) -> None:
    stores, managers, runners, urls = await _bearer_replicas(url, 2)
    headers = {"Authorization": f"Bearer {BEARER}", "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(urls[0], data=ALERT_BODY, headers=headers) as r:
                assert r.status == 202
            rows = await managers[0].intake.count_cases()
            async with session.post(urls[1], data=ALERT_BODY, headers=headers) as r:
                assert r.status == 409
                assert "already accepted" in (await r.json())["error"]
            assert await managers[1].intake.count_cases() == rows == 1
            changed = ALERT_BODY.replace(b"vm-am", b"vm-am-2").replace(
                b"mig-am", b"mig-2"
            )
            async with session.post(urls[1], data=changed, headers=headers) as r:
                assert r.status == 202
            assert await managers[0].intake.count_cases() == 2
    finally:
        for runner in runners:
            await runner.cleanup()
        for store in stores:
            await store.close()


class _FailingOnce:
    """A sink whose store does not answer the first time (a pool timeout, a failover)."""

    def __init__(self, inner: CaseManager) -> None:
        self.inner, self.failed = inner, False

    async def submit(self, report):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise TimeoutError("QueuePool limit reached, connection timed out")
        return await self.inner.submit(report)


async def test_a_store_that_does_not_answer_is_503_and_the_retry_is_not_a_replay(
    sqlite_store: Store,
) -> None:
    """Nothing stored: 503 with Retry-After (a sender retries a 5xx), and the very same
    signed request again is accepted, not refused as a replay of what was never kept."""
    cases = CaseManager(
        bot_settings(), sqlite_store, RecordingPoster(), RecordingIncidents()
    )
    app = build_webhook_app(
        _FailingOnce(cases), cases.intake, SECRET, replays=cases.intake
    )  # type: ignore[arg-type]
    runner, port = await start_webhook(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            hook = Hook(f"http://127.0.0.1:{port}{PATH}", cases, session)
            body = b'{"instance_uuid": "vm-1", "migration_uuid": "mig-store-down"}'
            stamp = int(time.time())
            status, reply = await hook.post(body, timestamp=stamp)
            assert status == 503
            assert "nothing was lost" in str(reply["error"])
            assert await cases.intake.count_cases() == 0
            status, _ = await hook.post(body, timestamp=stamp)
            assert status == 202
            assert await cases.intake.count_cases() == 1
    finally:
        await runner.cleanup()
