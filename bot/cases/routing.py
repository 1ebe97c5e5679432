"""Routing: which Slack channel a case is posted in (``intake.routes``, else the default)."""

from __future__ import annotations

import fnmatch

from bot.settings import Route
from bot.store.intake_repo import LeasedCase


def route_channel(
    case: LeasedCase, routes: tuple[Route, ...], default: str | None
) -> str | None:
    """First route whose every given criterion matches; else the default channel."""
    for route in routes:
        if (
            route.availability_zone
            and route.availability_zone != case.availability_zone
        ):
            continue
        if route.aggregate and route.aggregate != case.aggregate:
            continue
        if route.host_pattern and not any(
            host and fnmatch.fnmatchcase(host, route.host_pattern)
            for host in (case.source_host, case.dest_host)
        ):
            continue
        return route.channel
    return default
