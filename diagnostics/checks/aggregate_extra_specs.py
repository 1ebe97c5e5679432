"""The destination's aggregates lack the metadata the flavor requires (F2)."""

from __future__ import annotations

from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
    Aggregates,
    ManagementPlane,
    MigrationRecords,
    Server,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    Inconclusive,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_SCOPE = "aggregate_instance_extra_specs:"
_FILTER = "AggregateInstanceExtraSpecsFilter"


@check(
    id="nova.aggregate-extra-specs",
    title="Destination aggregates do not match the flavor's extra specs",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.AZ_AGGREGATE_MISMATCH,
    priority=700,
    step=6,
    summary=(
        "Flavor {flavor} requires aggregate metadata {missing} that {dest_host} "
        "does not have ({dest_aggregates})."
    ),
    remediation=(
        "openstack aggregate list --long",
        "{fix}",
    ),
    references=("https://docs.openstack.org/nova/latest/admin/aggregates.html",),
)
def aggregate_extra_specs(
    server: Server,
    records: MigrationRecords | None,
    aggregates: Aggregates | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """AggregateInstanceExtraSpecsFilter keeps a host only when its aggregates' metadata
    carry every aggregate_instance_extra_specs:KEY=VALUE of the flavor (a comma list in
    the metadata means any of them). Compares the flavor with the destination's
    aggregates; the scheduler saying the filter returned 0 hosts confirms.
    """
    move = move_of(records, server)
    wanted = {
        k.removeprefix(_SCOPE): v
        for k, v in server.flavor.extra_specs.items()
        if k.startswith(_SCOPE)
    }
    if not wanted:
        return RuledOut(reason="the flavor has no aggregate_instance_extra_specs")
    if move.dest is None or aggregates is None:
        return Inconclusive(reason="no destination host or no aggregate list")
    own = aggregates.of_host(move.dest)
    have: dict[str, set[str]] = {}
    for agg in own:
        for key, value in agg.metadata.items():
            have.setdefault(key, set()).update(v.strip() for v in value.split(","))
    missing = {k: v for k, v in wanted.items() if v.strip() not in have.get(k, set())}
    if not missing:
        return RuledOut(reason=f"{move.dest}'s aggregates satisfy the flavor")
    texts = gather(mgmt=mgmt)
    log = next(
        (h for h in texts.find_all(sig.FILTER_ZERO) if h.get("filter") == _FILTER), None
    ) or texts.find(sig.AGG_EXTRA_SPECS)
    key, value = next(iter(missing.items()))
    holder = next(
        (a.name for a in aggregates.aggregates if a.metadata.get(key) == value), None
    )
    if own:
        fix = f"openstack aggregate set --property {key}={value} {own[0].name}"
    elif holder:
        fix = f"openstack aggregate add host {holder} {move.dest}"
    else:
        fix = f"Create an aggregate with {key}={value} and add {move.dest} to it"
    return Concluded(
        facts={
            "flavor": server.flavor.name,
            "missing": ", ".join(f"{k}={v}" for k, v in sorted(missing.items())),
            "dest_host": move.dest,
            "dest_aggregates": ", ".join(a.name for a in own) or "in no aggregate",
            "fix": fix,
        },
        cites=cites(log),
        confidence=Confidence.CONFIRMED if log else Confidence.LIKELY,
    )
