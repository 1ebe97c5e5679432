"""Hypothesis strategies for whole Diagnosis values (renderers, storage round trips)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from diagnostics.model import (
    CheckResult,
    Citation,
    Concluded,
    Conclusion,
    Confidence,
    CouldNotCheck,
    Diagnosis,
    Errored,
    Finding,
    Inconclusive,
    MigrationKind,
    MigrationSummary,
    Place,
    Remedy,
    RemedyKind,
    RootCauseId,
    RuledOut,
    RunsOn,
    Severity,
    Skipped,
    StepResult,
    StepRole,
    StepStatus,
    VmSummary,
)
from diagnostics.registry import STEP_TITLES
from diagnostics.request_graph import FAMILIES, RequestRecord, Timing

texts = st.text(max_size=300)
short = st.text(min_size=1, max_size=40)
remedies = st.builds(
    Remedy,
    kind=st.sampled_from(RemedyKind),
    on=st.one_of(
        st.builds(RunsOn, place=st.sampled_from([Place.HOST, Place.POD]), name=short),
        st.just(RunsOn(place=Place.OPENSTACK_CLI)),
    ),
    command=st.one_of(st.none(), texts.filter(bool)),
    why=short,
)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds with timezones=
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)

citations = st.builds(Citation, source=short, text=texts)
findings = st.builds(
    Finding,
    root_cause=st.sampled_from(RootCauseId),
    check_id=short,
    title=short,
    confidence=st.sampled_from(Confidence),
    severity=st.sampled_from(Severity),
    summary=texts,
    evidence=st.lists(citations, max_size=30).map(tuple),
    remediation=st.lists(remedies, max_size=8).map(tuple),
    references=st.lists(short, max_size=3).map(tuple),
    caveats=st.lists(texts, max_size=3).map(tuple),
    explains=st.lists(st.sampled_from(RootCauseId), max_size=2).map(tuple),
    consequence_of=st.one_of(st.none(), st.sampled_from(RootCauseId)),
)
outcomes = st.one_of(
    st.builds(
        Concluded,
        facts=st.dictionaries(short, short, max_size=3),
        confidence=st.sampled_from(Confidence),
    ),
    st.builds(RuledOut, reason=texts),
    st.builds(Inconclusive, reason=texts),
    st.builds(CouldNotCheck, why=texts, needs=texts),
    st.builds(Skipped, reason=texts),
    st.builds(Errored, error=texts),
)
check_results = st.builds(
    CheckResult,
    check_id=short,
    title=short,
    step=st.integers(1, 8),
    root_cause=st.sampled_from(RootCauseId),
    outcome=outcomes,
    duration_ms=st.integers(0, 10_000),
)
steps = st.tuples(
    *(
        st.builds(
            StepResult,
            number=st.just(n),
            title=st.just(title),
            status=st.sampled_from(StepStatus),
            summary=texts,
            findings=st.lists(texts, max_size=5).map(tuple),
            duration_ms=st.integers(0, 100_000),
            role=st.one_of(st.none(), st.sampled_from(StepRole)),
        )
        for n, title in STEP_TITLES.items()
    )
)
migrations = st.builds(
    MigrationSummary,
    id=st.one_of(st.none(), short),
    uuid=st.one_of(st.none(), st.uuids().map(str)),
    kind=st.sampled_from(MigrationKind),
    block_migration=st.one_of(st.none(), st.booleans()),
    status=st.one_of(
        st.none(), st.sampled_from(["error", "failed", "cancelled", "completed"])
    ),
    source_host=st.one_of(st.none(), short),
    dest_host=st.one_of(st.none(), short),
    request_id=st.one_of(st.none(), st.uuids().map(lambda u: f"req-{u}")),
    started_at=st.one_of(st.none(), aware),
    updated_at=st.one_of(st.none(), aware),
)


@st.composite
def timings(draw: st.DrawFn) -> Timing:
    """A request graph: each request depends only on earlier ones (as recorded)."""
    count = draw(st.integers(0, 8))
    records = []
    for rid in range(1, count + 1):
        start = draw(st.integers(0, 5000)) / 10
        records.append(
            RequestRecord(
                id=rid,
                family=draw(st.sampled_from(sorted(FAMILIES))),
                what=draw(short),
                stage=draw(short),
                start_ms=start,
                end_ms=start + draw(st.integers(0, 3000)) / 10,
                depends_on=tuple(
                    sorted(draw(st.sets(st.integers(1, rid - 1), max_size=3)))
                )
                if rid > 1
                else (),
                status=draw(st.one_of(st.none(), st.sampled_from([200, 404, 503]))),
            )
        )
    return Timing(requests=tuple(records))


diagnoses = st.builds(
    Diagnosis,
    id=st.text(alphabet="0123456789abcdef", min_size=12, max_size=12),
    vm=st.builds(
        VmSummary,
        id=st.uuids().map(str),
        name=short,
        status=short,
        host=st.one_of(st.none(), short),
    ),
    migration=st.one_of(st.none(), migrations),
    steps=steps,
    root_cause=st.one_of(st.none(), findings),
    other_findings=st.lists(findings, max_size=5).map(tuple),
    checks=st.lists(check_results, max_size=10).map(tuple),
    started_at=aware,
    duration_ms=st.integers(0, 600_000),
    mode=st.sampled_from(["self-hosted", "saas"]),
    target_host=st.one_of(st.none(), short),
    timing=timings(),
    conclusion=st.sampled_from(Conclusion),
    could_not_check=st.lists(texts, max_size=4).map(tuple),
    next_steps=st.lists(texts, max_size=3).map(tuple),
)
