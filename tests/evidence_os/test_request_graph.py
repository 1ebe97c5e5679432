"""The request graph: critical path and bound, and what a real diagnosis records."""

from __future__ import annotations

from diagnostics.request_graph import (
    RequestGraph,
    RequestRecord,
    Timing,
    origin,
    recording,
    stage,
)


def _req(
    rid: int, start: float, end: float, *after: int, family: str = "nova"
) -> RequestRecord:
    return RequestRecord(
        id=rid,
        family=family,
        what=f"GET /{rid}",
        stage="s",
        start_ms=start,
        end_ms=end,
        depends_on=after,
    )


def test_bound_is_the_longest_chain_not_the_sum() -> None:
    """Two requests side by side count once; a request that waited on another adds to it."""
    timing = Timing(
        requests=(
            _req(1, 0, 50),  # token
            _req(2, 50, 100, 1),  # server
            _req(3, 100, 150, 2),  # migrations
            _req(4, 100, 140, 2),  # actions, beside the migrations
            _req(5, 150, 200, 3),  # provider lookup
            _req(6, 200, 250, 5),  # its inventories
            _req(7, 200, 260, 5),  # its usages, beside the inventories
        )
    )
    assert [r.id for r in timing.critical_path()] == [1, 2, 3, 5, 7]
    assert timing.bound_ms() == 260
    assert timing.span_ms() == 260


def test_span_counts_only_the_families_asked_for() -> None:
    """SSH commands do not stretch the OpenStack API span."""
    timing = Timing(
        requests=(_req(1, 10, 60), _req(2, 0, 900, family="ssh"), _req(3, 60, 100, 1))
    )
    assert timing.span_ms() == 90
    assert timing.span_ms({"ssh"}) == 900
    assert timing.bound_ms() == 90


def test_an_empty_graph_has_no_bound() -> None:
    """No requests (a fake bootstrap): span and bound are zero, not an error."""
    assert Timing().bound_ms() == 0
    assert Timing().span_ms() == 0
    assert Timing().critical_path() == ()


def test_stage_prerequisites_become_dependencies() -> None:
    """A request in a stage depends on every request of the stages it names."""
    graph = RequestGraph()
    with recording(graph):
        with stage("server"):
            first = origin().record(family="nova", what="GET /servers", start=0, end=1)
        with stage("migrations", after=("server",)):
            here = origin()
            listed = here.record(
                family="nova", what="GET /os-migrations", start=1, end=2
            )
        with stage("Placement", after=("server", "migrations")):
            lookup = origin().record(family="placement", what="GET /rp", start=2, end=3)
            detail = origin([lookup]).record(
                family="placement", what="GET /rp/x/usages", start=3, end=4
            )
    records = {r.id: r for r in graph.timing().requests}
    assert first is not None
    assert listed is not None
    assert lookup is not None
    assert detail is not None
    assert records[listed].depends_on == (first,)
    assert records[lookup].depends_on == (first, listed)
    assert records[detail].depends_on == (lookup,)  # explicit: only what it needed


def test_nothing_is_recorded_outside_a_diagnosis() -> None:
    """Without a current graph (a collector used on its own) recording is a no-op."""
    assert origin().record(family="nova", what="GET /x", start=0, end=1) is None
