"""Storms: failures that share a source host, a destination or a cause inside a window.

A case joins an open incident of one of its keys, most specific first; the first case
that brings a key's recent failures to the threshold opens the incident (and its poster
posts the parent). The incident table itself is in :mod:`bot.store.incident_repo`.
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
    now: datetime,
) -> IncidentSlot | None:
    """The incident the case belongs to, or None when it is on its own."""
    for key in storm_keys(case):
        slot = await incidents.assign(
            case.case_id,
            key,
            channel=channel,
            threshold=storms.threshold,
            window_s=storms.window_s,
            now=now,
        )
        if slot is not None:
            return slot
    return None
