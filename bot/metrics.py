"""Prometheus metrics of the serving bot, served at ``/metrics`` on the health port.

One registry for the process (``REGISTRY``), so any module can count without being handed
an object: ``from bot.metrics import INTAKE_REPORTS; INTAKE_REPORTS.labels(...).inc()``.
Label values are bounded sets (root-cause ids, step numbers, Slack method names, reason
classes), never free text, so the series count stays small.
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from diagnostics.model import Diagnosis

REGISTRY = CollectorRegistry(auto_describe=True)
_NS = "migrate_diag"

DIAGNOSES = Counter(
    f"{_NS}_diagnoses",
    "Completed diagnoses by root cause (or healthy/inconclusive) and confidence.",
    ["root_cause", "confidence"],
    registry=REGISTRY,
)
DIAGNOSIS_SECONDS = Histogram(
    f"{_NS}_diagnosis_seconds",
    "Duration of one diagnosis (the engine's own measure).",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300),
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    f"{_NS}_step_seconds",
    "Duration of each runbook step of a diagnosis.",
    ["step"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
COLLECTOR_FAILURES = Counter(
    f"{_NS}_collector_failures",
    "Evidence that could not be collected, by runbook step and reason class.",
    ["step", "reason"],
    registry=REGISTRY,
)
INTAKE_REPORTS = Counter(
    f"{_NS}_intake_reports",
    "Failure reports received, by source and outcome (accepted, refused, replayed, malformed).",
    ["source", "outcome"],
    registry=REGISTRY,
)
CASES_OPEN = Gauge(
    f"{_NS}_cases_open",
    "Cases not yet in a terminal state, by state (refreshed with each readiness check).",
    ["state"],
    registry=REGISTRY,
)
INCIDENTS_OPEN = Gauge(
    f"{_NS}_incidents_open",
    "Storm incidents not yet closed (refreshed with each readiness check).",
    registry=REGISTRY,
)
SLACK_CALLS = Counter(
    f"{_NS}_slack_api_calls",
    "Slack Web API HTTP attempts (retries included), by method.",
    ["method"],
    registry=REGISTRY,
)
SLACK_RATELIMITED = Counter(
    f"{_NS}_slack_api_ratelimited",
    "Slack Web API answers 429, by method.",
    ["method"],
    registry=REGISTRY,
)
SLACK_ERRORS = Counter(
    f"{_NS}_slack_api_errors",
    "Slack Web API answers that were not ok (5xx, ok:false, no connection), by method.",
    ["method", "error"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    f"{_NS}_slack_queue_depth",
    "Slack writes waiting: thread lanes plus posts waiting for their channel's pacer.",
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    f"{_NS}_diagnoses_in_flight",
    "Diagnoses running now.",
    registry=REGISTRY,
)

_REASONS = (
    ("timeout", re.compile(r"timed? ?out|timeout", re.I)),
    ("refused", re.compile(r"refused|reset by peer", re.I)),
    ("auth", re.compile(r"auth|denied|permission|forbidden|401|403|host key", re.I)),
    ("unreachable", re.compile(r"unreachable|no route|resolve|dns|connect", re.I)),
    ("not_found", re.compile(r"not found|no such|404|missing", re.I)),
    ("disabled", re.compile(r"disabled|not configured|off\b", re.I)),
)
_STEP = re.compile(r"step (\d+)", re.I)


def reason_class(text: str) -> str:
    """A bounded label for a free-text failure reason."""
    for label, pattern in _REASONS:
        if pattern.search(text):
            return label
    return "other"


def observe_diagnosis(d: Diagnosis) -> None:
    """Count one completed diagnosis: verdict, durations, what could not be collected."""
    confidence = d.root_cause.confidence.value if d.root_cause else "none"
    DIAGNOSES.labels(root_cause=d.verdict, confidence=confidence).inc()
    DIAGNOSIS_SECONDS.observe(d.duration_ms / 1000)
    for step in d.steps:
        STEP_SECONDS.labels(step=str(step.number)).observe(step.duration_ms / 1000)
    for line in d.could_not_check:
        match = _STEP.search(line)
        COLLECTOR_FAILURES.labels(
            step=match.group(1) if match else "?", reason=reason_class(line)
        ).inc()


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1] or "?"


class SlackCallCounter(AsyncRetryHandler):
    """Counts every Slack HTTP attempt; never asks for a retry itself.

    slack_sdk shows each response (and each connection error) to the retry handlers in
    order, so this one goes first and the real handlers still decide the retries.
    """

    def __init__(self) -> None:
        super().__init__(max_retry_count=1_000_000)

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = _method(request)
        SLACK_CALLS.labels(method=method).inc()
        if response is None:
            SLACK_ERRORS.labels(method=method, error="connection").inc()
        elif response.status_code == 429:
            SLACK_RATELIMITED.labels(method=method).inc()
        elif response.status_code >= 500:
            SLACK_ERRORS.labels(
                method=method, error=f"http_{response.status_code}"
            ).inc()
        else:
            body: Any = response.body
            if isinstance(body, dict) and body.get("ok") is False:
                SLACK_ERRORS.labels(method=method, error=str(body.get("error"))).inc()
        return False
