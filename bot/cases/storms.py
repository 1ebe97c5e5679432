"""Storms: failures that share a source host, a destination or a cause inside a window.

A case joins an open incident of one of its keys, most specific first; the first case
that brings a key's recent failures to the threshold opens the incident (and its poster
posts the parent). The incident table itself is in :mod:`bot.store.incident_repo`.

Grouping goes by when a failure was *reported* (the case's ``created_at``), not when it is
dispatched: a backlog drained after the window still joins the storm it belongs to.

Inside an incident, diagnosed members are grouped by :func:`cause_of`: one Slack reply per
group, so a storm costs messages per distinct cause, not per VM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.settings import StormSettings
from bot.store.incident_repo import IncidentRepo, IncidentSlot, StormAxis, StormKey
from bot.store.intake_repo import LeasedCase
from diagnostics.model import Confidence, Diagnosis, Place


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


@dataclass(frozen=True, slots=True)
class CauseKey:
    """What members of one storm group share: the same card would be true for each.

    The verdict (root cause and the check that concluded it), its confidence, and the
    machines its fix runs on: two VMs whose certificates expired on different hosts get
    different cards. A diagnosis that found nothing, or could not run, is its own group.
    """

    root_cause: str  # RootCauseId value, "healthy" or "not-diagnosed"
    check_id: str
    confidence: Confidence | None
    hosts: tuple[str, ...]  # where the fix runs, sorted

    @property
    def where(self) -> str | None:
        """``on cmp-a-02`` for the breakdown, when the fix is on one host."""
        return self.hosts[0] if len(self.hosts) == 1 else None


NOT_DIAGNOSED = CauseKey("not-diagnosed", "", None, ())


def cause_of(diagnosis: Diagnosis) -> CauseKey:
    """The group a diagnosed storm member belongs to."""
    finding = diagnosis.root_cause
    if finding is None:
        return CauseKey("healthy", "", None, ())
    hosts = sorted(
        {
            r.on.name
            for r in finding.remediation
            if r.on.place is Place.HOST and r.on.name
        }
    )
    return CauseKey(
        finding.root_cause.value, finding.check_id, finding.confidence, tuple(hosts)
    )
