"""Storms: failures that share a source host, a destination or a cause inside a window.

A case joins an open incident of one of its keys, most specific first; the first case
that brings a key's recent failures to the threshold opens the incident (and its poster
posts the parent). The incident table itself is in :mod:`bot.store.incident_repo`.

Grouping goes by when a failure was *reported* (the case's ``created_at``), not when it is
dispatched: a backlog drained after the window still joins the storm it belongs to.

Inside an incident, diagnosed members are grouped by :func:`bot.causes.cause_of` (a
top-level module, since the Slack side applies it): one Slack reply per group, so a storm
costs messages per distinct cause, not per VM.
"""

from __future__ import annotations

from datetime import datetime

from bot.settings import StormSettings
from bot.store.incident_repo import IncidentRepo, IncidentSlot, StormAxis, StormKey
from bot.store.intake_repo import LeasedCase


def storm_keys(case: LeasedCase) -> tuple[StormKey, ...]:
    """The keys a case may share with others, most specific grouping first."""
    keys: list[StormKey] = []
    if case.source_host:
        keys.append(StormKey(StormAxis.SOURCE_HOST, case.source_host))
    if case.dest_host:
        keys.append(StormKey(StormAxis.DEST_HOST, case.dest_host))
    if case.error and ":" in case.error:
        keys.append(StormKey(StormAxis.CAUSE, case.error.split(":", 1)[0]))
    return tuple(keys)


async def join_storm(
    incidents: IncidentRepo,
    case: LeasedCase,
    *,
    channel: str,
    storms: StormSettings,
    now: datetime | None = None,
) -> IncidentSlot | None:
    """The incident the case belongs to, or None when it is on its own.

    ``now`` defaults to when the case was reported: the window is about failures, not
    about how long the queue took to reach them.
    """
    at = case.created_at if now is None else now
    for key in storm_keys(case):
        slot = await incidents.assign(
            case.case_id,
            key,
            channel=channel,
            threshold=storms.threshold,
            window_s=storms.window_s,
            now=at,
        )
        if slot is not None:
            return slot
    return None
