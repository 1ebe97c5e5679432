"""Which storm members share a card: the cause group of a diagnosis.

A rule of storms (``bot.cases.storms`` groups failures into incidents; this groups an
incident's diagnosed members), kept at the top of ``bot`` because the Slack side
(``bot.posting.storm``) applies it as each diagnosis finishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.model import Confidence, Diagnosis, Place


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
