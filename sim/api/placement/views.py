"""Placement's response bodies, each key declared with the microversion that adds it
(``sim/api/fields.py``), as in Placement's handlers and ``shared/reference``'s answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.api.fields import Field, Version, in_effect, render
from sim.api.placement import data as pd
from sim.region.state import RegionState

# request parameters and behaviour, by the version that introduced them
QUERY_SINCE: dict[str, Version] = {
    "member_of": (1, 3),
    "resources": (1, 4),  # on GET /resource_providers
    "required": (1, 18),
}
CACHE_HEADERS_SINCE: Version = (1, 15)  # Cache-Control and Last-Modified on a 200


def query(request_query: Any, name: str, served: Version) -> list[str]:
    """The values of a query parameter, or none before the version that reads it."""
    return (
        request_query.getall(name, []) if in_effect(served, QUERY_SINCE[name]) else []
    )


@dataclass(frozen=True, slots=True)
class Provider:
    state: RegionState
    host: str
    served: Version  # the links a provider lists depend on it

    @property
    def uuid(self) -> str:
        return pd.provider_uuid(self.state, self.host)


_LINK_RELS: tuple[tuple[str, Version | None], ...] = (
    ("inventories", None),
    ("usages", None),
    ("aggregates", (1, 1)),
    ("traits", (1, 6)),
    ("allocations", (1, 11)),
)


def _links(p: Provider) -> list[dict[str, str]]:
    base = f"/resource_providers/{p.uuid}"
    rels = [rel for rel, added in _LINK_RELS if in_effect(p.served, added)]
    return [{"href": base, "rel": "self"}] + [
        {"href": f"{base}/{rel}", "rel": rel} for rel in rels
    ]


PROVIDER_FIELDS: tuple[Field[Provider], ...] = (
    Field("generation", lambda p: pd.generation(p.state, p.host)),
    Field("links", _links),
    Field("name", lambda p: p.host),
    Field("uuid", lambda p: p.uuid),
    Field("parent_provider_uuid", lambda p: None, since=(1, 14)),
    Field("root_provider_uuid", lambda p: p.uuid, since=(1, 14)),
)

AGGREGATES_FIELDS: tuple[Field[Provider], ...] = (
    Field("aggregates", lambda p: pd.aggregates(p.state, p.host)),
    Field(
        "resource_provider_generation",
        lambda p: pd.generation(p.state, p.host),
        since=(1, 19),
    ),
)

# one consumer's entry in GET /resource_providers/{uuid}/allocations
PROVIDER_ALLOCATION_FIELDS: tuple[Field[dict[str, int]], ...] = (
    Field("resources", lambda resources: resources),
    Field("consumer_generation", lambda resources: 1, since=(1, 28)),
)


@dataclass(frozen=True, slots=True)
class Consumer:
    state: RegionState
    consumer: str
    allocations: dict[str, Any]


CONSUMER_FIELDS: tuple[Field[Consumer], ...] = (
    Field("allocations", lambda c: c.allocations),
    Field(
        "project_id", lambda c: pd.consumer_owner(c.state, c.consumer)[0], since=(1, 12)
    ),
    Field(
        "user_id", lambda c: pd.consumer_owner(c.state, c.consumer)[1], since=(1, 12)
    ),
    Field("consumer_generation", lambda c: 1, since=(1, 28)),
    Field("consumer_type", lambda c: pd.CONSUMER_TYPE, since=(1, 38)),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    state: RegionState
    host: str
    wanted: dict[str, int]

    @property
    def uuid(self) -> str:
        return pd.provider_uuid(self.state, self.host)


ALLOCATION_REQUEST_FIELDS: tuple[Field[Candidate], ...] = (
    Field(
        "allocations",
        lambda c: [
            {"resource_provider": {"uuid": c.uuid}, "resources": dict(c.wanted)}
        ],
        until=(1, 12),
    ),
    Field(
        "allocations",
        lambda c: {c.uuid: {"resources": dict(c.wanted)}},
        since=(1, 12),
    ),
    Field("mappings", lambda c: {"": [c.uuid]}, since=(1, 34)),
)


def _capacities(c: Candidate, every_class: bool) -> dict[str, Any]:
    inv = pd.inventories(c.state.scenario.hosts[c.host])
    used = pd.usages(c.state, c.host)
    classes = inv if every_class else {rc: inv[rc] for rc in c.wanted}
    return {
        rc: {"capacity": i.capacity, "used": used.get(rc, 0)}
        for rc, i in classes.items()
    }


SUMMARY_FIELDS: tuple[Field[Candidate], ...] = (
    Field("resources", lambda c: _capacities(c, every_class=False), until=(1, 27)),
    # from 1.27 the summary lists every class of the provider, not only requested ones
    Field("resources", lambda c: _capacities(c, every_class=True), since=(1, 27)),
    Field("traits", lambda c: pd.traits(c.state, c.host), since=(1, 17)),
    Field("parent_provider_uuid", lambda c: None, since=(1, 29)),
    Field("root_provider_uuid", lambda c: c.uuid, since=(1, 29)),
)


@dataclass(frozen=True, slots=True)
class ProjectUsage:
    totals: dict[str, int]
    consumers: int


def _grouped(u: ProjectUsage) -> dict[str, Any]:
    if not u.consumers:
        return {}
    return {pd.CONSUMER_TYPE: u.totals | {"consumer_count": u.consumers}}


USAGES_FIELDS: tuple[Field[ProjectUsage], ...] = (
    Field("usages", lambda u: u.totals, until=(1, 38)),
    Field("usages", _grouped, since=(1, 38)),  # by consumer type, with the count
)


def provider_body(state: RegionState, host: str, served: Version) -> dict[str, Any]:
    return render(PROVIDER_FIELDS, Provider(state, host, served), served)
