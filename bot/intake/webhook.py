"""``POST /hooks/migration-failed``: failure reports from monitoring (generic JSON, Alertmanager).

Authentication, either of:

- an HMAC-SHA256 shared secret over ``v1:<timestamp>:<raw body>``, sent as
  ``X-Migrate-Diag-Signature: sha256=<hex>`` with ``X-Migrate-Diag-Timestamp: <unix s>``;
- a bearer token, ``Authorization: Bearer <token>`` (Alertmanager's
  ``http_config.authorization``, which cannot sign a body).

Both are compared in constant time (``hmac.compare_digest``) and share the same rules: the
body limit, and the 300 s window on ``X-Migrate-Diag-Timestamp`` (required with HMAC,
checked when a bearer sender adds it). Only ``Content-Type: application/json`` is read
(415 otherwise). Bad credentials → 401; a replayed request → 409, remembered in the store
so every replica refuses it: a signature already accepted inside the timestamp window, or
for a bearer request (no per-request signature) the identical body again within
``BEARER_REPLAY_S`` (``replay_key``); malformed body → 400 with the reason. Every refusal
is a JSON ``{"error": ...}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from bot.cases.report import FailureReport, MalformedEvent, ReportSource
from bot.intake.sinks import DeadLetters, ReportSink
from bot.metrics import INTAKE_REPORTS
from bot.times import parse_time, utcnow
from diagnostics.model import MigrationKind

log = logging.getLogger(__name__)

PATH = "/hooks/migration-failed"
SIGNATURE_HEADER = "X-Migrate-Diag-Signature"
TIMESTAMP_HEADER = "X-Migrate-Diag-Timestamp"
MAX_SKEW_S = 300
# a bearer request's identical body again within this many seconds is a replay (409)
BEARER_REPLAY_S = 120
RETRY_AFTER_S = 5  # a store that did not answer (pool timeout, failover) is back soon
_REPLAYED_SIGNATURE = (
    "replayed request: this signature was already accepted; sign each request with "
    "a fresh timestamp"
)
_REPLAYED_BODY = (
    f"replayed request: this exact body was already accepted in the last "
    f"{BEARER_REPLAY_S} s (a bearer request has no signature, so its body is the "
    "replay key); the first copy is stored, nothing is lost"
)
MAX_BODY = 1_048_576
# how much later than the failure an alert's startsAt may be (its rule's ``for:``, the
# scrape and evaluation intervals): how far back it may join a VM's case
ALERT_LAG_S = 3600.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes."""
    digest = hmac.new(
        secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256
    )
    return f"sha256={digest.hexdigest()}"


def _window(timestamp: str, now: float) -> str | None:
    try:
        stamp = int(timestamp)
    except ValueError:
        return "timestamp is not an integer"
    if abs(now - stamp) > MAX_SKEW_S:
        return "timestamp outside the 300 s window"
    return None


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> str | None:
    """None when authentic; otherwise why not (never echoing the expected digest)."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        return "missing signature or timestamp header"
    if (late := _window(timestamp, now)) is not None:
        return late
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "signature does not match"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookAuth:
    """What a sender may prove itself with; at least one is set (``intake.webhook``)."""

    hmac_secret: str | None = None
    bearer_token: str | None = None

    def __post_init__(self) -> None:
        if not self.hmac_secret and not self.bearer_token:
            raise ValueError("the webhook needs an HMAC secret or a bearer token")


def authenticate(
    auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float
) -> str | None:
    """None when the request proves itself by either means; otherwise why not."""
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if auth.bearer_token is None:
            return "bearer tokens are not accepted here"
        if not hmac.compare_digest(
            credentials.strip().encode(), auth.bearer_token.encode()
        ):
            return "bearer token does not match"
        timestamp = headers.get(TIMESTAMP_HEADER)
        return _window(timestamp, now) if timestamp else None
    if auth.hmac_secret is None:
        return "missing Authorization: Bearer header"
    return verify(auth.hmac_secret, headers, body, now)


_FIELDS = {
    "instance_uuid": ("instance_uuid", "server_id", "instance_id", "server"),
    "migration_uuid": ("migration_uuid",),
    "migration_id": ("migration_id",),
    "source_host": ("source_host", "source_compute", "host"),
    "dest_host": ("dest_host", "dest_compute"),
    "status": ("status", "migration_status"),
    "request_id": ("request_id",),
    "availability_zone": ("availability_zone", "az"),
    "aggregate": ("aggregate",),
    "error": ("error", "description", "summary"),
}


def _pick(sources: list[Mapping[str, Any]], names: tuple[str, ...]) -> str | None:
    for source in sources:
        for name in names:
            value = source.get(name)
            if value is not None and value != "":
                return str(value)
    return None


def _report(
    sources: list[Mapping[str, Any]],
    raw: Mapping[str, Any],
    now: datetime,
    alert_lag_s: float = 0.0,
) -> FailureReport:
    values = {field: _pick(sources, names) for field, names in _FIELDS.items()}
    if not (
        values["instance_uuid"] or values["migration_uuid"] or values["migration_id"]
    ):
        raise MalformedEvent(
            "names neither an instance (instance_uuid) nor a migration"
        )
    if not values["instance_uuid"]:
        raise MalformedEvent("instance_uuid is required to diagnose the failure")
    kind_text = _pick(sources, ("kind", "migration_type"))
    try:
        kind = MigrationKind(kind_text) if kind_text else None
    except ValueError as exc:
        raise MalformedEvent(f"unknown migration kind {kind_text!r}") from exc
    return FailureReport(
        source=ReportSource.WEBHOOK,
        kind=kind,
        occurred_at=parse_time(_pick(sources, ("occurred_at", "startsAt"))),
        # no occurred_at: the time is the alert's startsAt, later than the failure
        time_lag_s=0.0 if _pick(sources, ("occurred_at",)) else alert_lag_s,
        received_at=now,
        raw=dict(raw),
        event_type="webhook",
        **values,
    )


def parse_body(
    body: bytes, now: datetime, *, alert_lag_s: float = ALERT_LAG_S
) -> list[FailureReport]:
    """A generic JSON object, or an Alertmanager webhook (``alerts[].labels/annotations``)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("body is not a JSON object")
    if "alerts" not in data:
        return [_report([data], data, now)]
    alerts = data["alerts"]
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise MalformedEvent("alerts is not a list of objects")
    reports = []
    for alert in alerts:
        if alert.get("status", "firing") != "firing":
            continue  # a resolved alert is not a new failure
        labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
        if not isinstance(labels, dict) or not isinstance(annotations, dict):
            raise MalformedEvent("alert labels/annotations are not objects")
        reports.append(_report([labels, annotations, alert], alert, now, alert_lag_s))
    return reports


class Replays(Protocol):
    """Where accepted requests are remembered (``IntakeRepo.first_use``: the store, so
    every replica refuses a replay); False means the digest was seen within
    ``window_s`` (default ``keep_s``)."""

    async def first_use(
        self,
        digest: str,
        *,
        now: datetime,
        keep_s: float,
        window_s: float | None = None,
    ) -> bool: ...

    async def forget(self, digest: str) -> None: ...


class LocalReplays:
    """Accepted digests in this process only (one replica, tests)."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}

    async def first_use(
        self,
        digest: str,
        *,
        now: datetime,
        keep_s: float,
        window_s: float | None = None,
    ) -> bool:
        cutoff = now - timedelta(seconds=keep_s)
        self._seen = {d: at for d, at in self._seen.items() if at >= cutoff}
        window = timedelta(seconds=keep_s if window_s is None else window_s)
        seen = self._seen.get(digest)
        if seen is not None and seen >= now - window:
            return False
        self._seen[digest] = now
        return True

    async def forget(self, digest: str) -> None:
        self._seen.pop(digest, None)


def replay_key(headers: Mapping[str, str], body: bytes) -> tuple[str, float]:
    """(digest, replay window in seconds) of an authenticated request.

    A signed request: its signature, once per timestamp window. A bearer request has no
    per-request secret, so its body (and timestamp header, when the sender adds one) is
    the key, refused again only within ``BEARER_REPLAY_S``: a retry after a lost answer
    comes within seconds, while Alertmanager's own re-send of an unchanged group (a
    byte-identical body: firing alerts carry a zero ``endsAt``) comes every
    ``repeat_interval``, never sooner than ``group_interval`` (defaults 4 h and 5 m).
    """
    scheme = headers.get("Authorization", "").partition(" ")[0].lower()
    signature = headers.get(SIGNATURE_HEADER)
    if signature and scheme != "bearer":
        return hashlib.sha256(signature.encode()).hexdigest(), 2 * MAX_SKEW_S
    stamp = headers.get(TIMESTAMP_HEADER, "").encode()
    digest = hashlib.sha256(b"bearer\0" + stamp + b"\0" + body).hexdigest()
    return digest, BEARER_REPLAY_S


def _unavailable() -> web.Response:
    """503 with Retry-After: senders (Alertmanager, curl --retry) retry a 5xx, and
    what reached the store before the failure is deduplicated on the retry."""
    return web.json_response(
        {"error": "the bot's store is unavailable; nothing was lost: retry shortly"},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _is_json(request: web.Request) -> bool:
    """``Content-Type: application/json`` (any parameters); aiohttp reads a missing one
    as application/octet-stream."""
    return request.content_type == "application/json"


def build_webhook_app(
    sink: ReportSink,
    dead_letters: DeadLetters,
    secret: str | None,
    *,
    token: str | None = None,
    clock: Callable[[], float] = time.time,
    alert_lag_s: float = ALERT_LAG_S,
    replays: Replays | None = None,
) -> web.Application:
    auth = WebhookAuth(hmac_secret=secret, bearer_token=token)
    seen = replays if replays is not None else LocalReplays()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if len(body) > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        if not _is_json(request):
            return web.json_response(
                {"error": "Content-Type must be application/json"}, status=415
            )
        now = clock()
        problem = authenticate(auth, request.headers, body, now)
        if problem is not None:
            log.warning("webhook refused: %s", problem)
            INTAKE_REPORTS.labels(source="webhook", outcome="refused").inc()
            return web.json_response({"error": problem}, status=401)
        digest, window_s = replay_key(request.headers, body)
        at = datetime.fromtimestamp(now, UTC)
        try:
            # one pruning age for every kind of key (the store's table is shared)
            first = await seen.first_use(
                digest, now=at, keep_s=2 * MAX_SKEW_S, window_s=window_s
            )
        except Exception:  # the store did not answer: the sender's retry will come
            log.exception("webhook: the store did not answer")
            return _unavailable()
        if not first:
            signed = window_s != BEARER_REPLAY_S
            log.warning(
                "webhook refused: a replayed %s", "signature" if signed else "body"
            )
            INTAKE_REPORTS.labels(source="webhook", outcome="replayed").inc()
            return web.json_response(
                {"error": _REPLAYED_SIGNATURE if signed else _REPLAYED_BODY}, status=409
            )
        try:
            reports = parse_body(body, utcnow(), alert_lag_s=alert_lag_s)
        except MalformedEvent as exc:
            log.warning("webhook body malformed: %s", exc.reason)
            await dead_letters.dead_letter("webhook", exc.reason, body)
            INTAKE_REPORTS.labels(source="webhook", outcome="malformed").inc()
            return web.json_response({"error": exc.reason}, status=400)
        try:
            cases = [(await sink.submit(report)).case_id for report in reports]
        except Exception:  # not stored: the retry must not look like a replay
            log.exception("webhook: a report could not be stored")
            with contextlib.suppress(Exception):
                await seen.forget(digest)
            return _unavailable()
        return web.json_response({"accepted": len(reports), "cases": cases}, status=202)

    app = web.Application(client_max_size=MAX_BODY + 1)
    app.router.add_post(PATH, handle)
    return app


async def start_webhook(
    app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve ``app``; returns the runner and the bound port (port 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server: Any = site._server  # aiohttp exposes the bound port only here
    return runner, int(server.sockets[0].getsockname()[1])
