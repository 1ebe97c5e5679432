"""The destination's aggregates lack the metadata the flavor requires (F2)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import Hit, cites, gather, move_of
from diagnostics.evidence.types import (
    AggregateInfo,
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
    summary="Flavor {flavor} requires aggregate metadata {missing}; {where}.",
    remediation=(
        r.fix(
            r.CLI,
            "openstack aggregate set --property {agg_key}={agg_value} {aggregate}",
            "Gives the aggregate the metadata the flavor requires.",
            when="aggregate",
        ),
        r.fix(
            r.CLI,
            "openstack aggregate add host {holder_aggregate} {dest_host}",
            "Puts {dest_host} into an aggregate that already carries the metadata.",
            when="holder_aggregate",
        ),
        r.check(
            r.CLI,
            "openstack aggregate list --long",
            "Every aggregate with its hosts and metadata.",
        ),
        r.check(
            r.CLI,
            "openstack flavor show {flavor_name} -c properties",
            "The flavor's aggregate_instance_extra_specs the hosts must match.",
        ),
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
    if aggregates is None:
        return Inconclusive(reason="no aggregate list")
    texts = gather(mgmt=mgmt)
    log = next(
        (h for h in texts.find_all(sig.FILTER_ZERO) if h.get("filter") == _FILTER), None
    ) or texts.find(sig.AGG_EXTRA_SPECS)
    if move.dest is None:
        return _unscheduled(server, move.source, wanted, aggregates, log)
    own = aggregates.of_host(move.dest)
    missing = _missing(wanted, own)
    if not missing:
        return RuledOut(reason=f"{move.dest}'s aggregates satisfy the flavor")
    key, value = next(iter(missing.items()))
    holder = next(
        (a.name for a in aggregates.aggregates if a.metadata.get(key) == value), None
    )
    if own:
        fix = {"aggregate": own[0].name}
    elif holder:
        fix = {"holder_aggregate": holder}
    else:  # no aggregate to extend: creating one is a site decision, so only look
        fix = {}
    names = ", ".join(a.name for a in own) or "in no aggregate"
    return Concluded(
        facts={
            "flavor": server.flavor.name,
            "missing": _spell(missing),
            "where": f"{move.dest} does not have it ({names})",
            "flavor_name": server.flavor.name,
            "dest_host": move.dest,
            "agg_key": key,
            "agg_value": value,
        }
        | fix,
        cites=cites(log),
        confidence=Confidence.CONFIRMED if log else Confidence.LIKELY,
    )


def _missing(wanted: dict[str, str], own: tuple[AggregateInfo, ...]) -> dict[str, str]:
    """The flavor's KEY=VALUE pairs that none of ``own`` carries (a comma list = any)."""
    have: dict[str, set[str]] = {}
    for agg in own:
        for key, value in agg.metadata.items():
            have.setdefault(key, set()).update(v.strip() for v in value.split(","))
    return {k: v for k, v in wanted.items() if v.strip() not in have.get(k, set())}


def _spell(pairs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(pairs.items()))


def _unscheduled(
    server: Server,
    source: str | None,
    wanted: dict[str, str],
    aggregates: Aggregates,
    log: Hit | None,
) -> CheckOutcome:
    """No destination was chosen: could any other host have satisfied the flavor?"""
    hosts = sorted({h for a in aggregates.aggregates for h in a.hosts} - {source})
    fitting = [h for h in hosts if not _missing(wanted, aggregates.of_host(h))]
    if fitting and log is None:
        return Inconclusive(reason=f"{', '.join(fitting)} satisfy the flavor")
    if fitting:
        where = (
            f"only {', '.join(fitting)} carry it and the scheduler's "
            f"{_FILTER} still removed every host"
        )
    else:
        where = f"no other host has it (checked {', '.join(hosts) or 'no hosts'})"
    key, value = next(iter(wanted.items()))
    return Concluded(
        facts={
            "flavor": server.flavor.name,
            "missing": _spell(wanted),
            "where": where,
            "flavor_name": server.flavor.name,
            "agg_key": key,
            "agg_value": value,
        },
        cites=cites(log),
        confidence=Confidence.CONFIRMED if log else Confidence.LIKELY,
    )
