"""Placement API (read side) of the simulated region, mounted under ``/placement``.

Shapes follow the Placement API reference and the responses recorded from Placement 16
in ``shared/reference/nova/live/placement/``: version negotiation with
``OpenStack-API-Version: placement X.Y`` (406 with ``max_version`` when unsupported),
fields added per microversion, and Placement's ``{"errors": [...]}`` bodies.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from sim.api.errors import (
    format_version,
    json_response,
    parse_microversion,
    placement_error,
)
from sim.api.placement import data as pd
from sim.region.state import RegionState

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 39)
_RESOURCES = re.compile(r"^[A-Z0-9_]+:\d+$")

Version = tuple[int, int]
Endpoint = Callable[[web.Request, RegionState, Version], Awaitable[web.Response]]


def add_routes(app: web.Application, state: RegionState) -> None:
    """Mount the Placement API under ``/placement`` on ``app``."""
    routes: list[tuple[str, Endpoint, Version]] = [
        ("/resource_providers", _list_providers, (1, 0)),
        ("/resource_providers/{uuid}", _show_provider, (1, 0)),
        ("/resource_providers/{uuid}/inventories", _provider_inventories, (1, 0)),
        ("/resource_providers/{uuid}/inventories/{rc}", _provider_inventory, (1, 0)),
        ("/resource_providers/{uuid}/usages", _provider_usages, (1, 0)),
        ("/resource_providers/{uuid}/aggregates", _provider_aggregates, (1, 1)),
        ("/resource_providers/{uuid}/traits", _provider_traits, (1, 6)),
        ("/resource_providers/{uuid}/allocations", _provider_allocations, (1, 0)),
        ("/allocations/{consumer}", _consumer_allocations, (1, 0)),
        ("/allocation_candidates", _allocation_candidates, (1, 10)),
        ("/traits", _list_traits, (1, 6)),
        ("/usages", _project_usages, (1, 9)),
    ]
    app.router.add_get("/placement", _bind(_root, state, MIN_VERSION))
    app.router.add_get("/placement/", _bind(_root, state, MIN_VERSION))
    for path, endpoint, since in routes:
        app.router.add_get("/placement" + path, _bind(endpoint, state, since))


def _bind(
    endpoint: Endpoint, state: RegionState, since: Version
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        version = parse_microversion(request, "placement", MIN_VERSION, MAX_VERSION)
        if version is None:
            raw = request.headers.get("OpenStack-API-Version", "")
            extra = {"max_version": format_version(MAX_VERSION), "min_version": "1.0"}
            detail = f"Unacceptable version header: {raw.split()[-1] if raw else ''}"
            response = placement_error(request, 406, detail, extra=extra)
        elif version < since:
            response = placement_error(request, 404, "The resource could not be found.")
        else:
            response = await endpoint(request, state, version)
        chosen = version or MIN_VERSION
        response.headers["OpenStack-API-Version"] = (
            f"placement {format_version(chosen)}"
        )
        response.headers["Vary"] = "openstack-api-version"
        if chosen >= (1, 15) and response.status == 200:
            response.headers["Cache-Control"] = "no-cache"
            response.headers["Last-Modified"] = format_datetime(state.now, usegmt=True)
        return response

    return handler


async def _root(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    doc = {
        "id": "v1.0",
        "max_version": format_version(MAX_VERSION),
        "min_version": format_version(MIN_VERSION),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }
    return json_response(request, {"versions": [doc]})


def _host_or_404(request: web.Request, state: RegionState) -> str | web.Response:
    rp_uuid = request.match_info["uuid"]
    host = pd.host_by_provider(state, rp_uuid)
    if host is None:
        return placement_error(
            request,
            404,
            f"No resource provider with uuid {rp_uuid} found",
            code="placement.undefined_code",
        )
    return host


def _provider_body(state: RegionState, host: str, version: Version) -> dict[str, Any]:
    rp_uuid = pd.provider_uuid(state, host)
    rels = ["inventories", "usages"]
    if version >= (1, 1):
        rels.append("aggregates")
    if version >= (1, 6):
        rels.append("traits")
    if version >= (1, 11):
        rels.append("allocations")
    base = f"/resource_providers/{rp_uuid}"
    body: dict[str, Any] = {
        "generation": pd.generation(state, host),
        "links": [{"href": base, "rel": "self"}]
        + [{"href": f"{base}/{rel}", "rel": rel} for rel in rels],
        "name": host,
        "uuid": rp_uuid,
    }
    if version >= (1, 14):
        body["parent_provider_uuid"] = None
        body["root_provider_uuid"] = rp_uuid
    return body


def _parse_resources(raw: str) -> dict[str, int] | str:
    """``VCPU:2,MEMORY_MB:4096`` -> dict, or the 400 detail Placement gives."""
    wanted: dict[str, int] = {}
    for part in raw.split(","):
        if not _RESOURCES.match(part):
            return (
                "Badly formed resources parameter. Expected resources query string "
                f"parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {raw}."
            )
        rc, _, amount = part.partition(":")
        wanted[rc] = int(amount)
    return wanted


def _unknown_trait(request: web.Request) -> str | None:
    """The 400 detail Placement gives for a required trait name it cannot know."""
    for raw in request.query.getall("required", []):
        for item in raw.removeprefix("in:").split(","):
            name = item.removeprefix("!")
            if not re.match(r"^[A-Z0-9_]+$", name):
                return f"No such trait(s): {name}"
    return None


def _matches(
    request: web.Request, state: RegionState, host: str, version: Version
) -> bool:
    member_of = request.query.getall("member_of", []) if version >= (1, 3) else []
    if member_of and not pd.member_match(set(pd.aggregates(state, host)), member_of):
        return False
    required = request.query.getall("required", []) if version >= (1, 18) else []
    return not required or pd.trait_match(set(pd.traits(state, host)), required)


async def _list_providers(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    detail = _unknown_trait(request)
    wanted: dict[str, int] = {}
    if "resources" in request.query and version >= (1, 4):
        parsed = _parse_resources(request.query["resources"])
        if isinstance(parsed, str):
            return placement_error(request, 400, parsed)
        wanted = parsed
    if detail:
        return placement_error(request, 400, detail)
    found = []
    for host in state.scenario.hosts:
        rp_uuid = pd.provider_uuid(state, host)
        if request.query.get("name", host) != host:
            continue
        if request.query.get("uuid", rp_uuid) != rp_uuid:
            continue
        if request.query.get("in_tree", rp_uuid) != rp_uuid:
            continue
        if not _matches(request, state, host, version):
            continue
        if wanted and not pd.fits(state, host, wanted):
            continue
        found.append(_provider_body(state, host, version))
    return json_response(request, {"resource_providers": found})


async def _show_provider(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    return json_response(request, _provider_body(state, host, version))


async def _provider_inventories(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    inv = {
        rc: i.as_dict() for rc, i in pd.inventories(state.scenario.hosts[host]).items()
    }
    body = {
        "inventories": inv,
        "resource_provider_generation": pd.generation(state, host),
    }
    return json_response(request, body)


async def _provider_inventory(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    rc = request.match_info["rc"]
    inv = pd.inventories(state.scenario.hosts[host]).get(rc)
    if inv is None:
        rp_uuid = request.match_info["uuid"]
        detail = f"No inventory of class {rc} for {rp_uuid}"
        return placement_error(request, 404, detail)
    body = inv.as_dict() | {"resource_provider_generation": pd.generation(state, host)}
    return json_response(request, body)


async def _provider_usages(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    body = {
        "resource_provider_generation": pd.generation(state, host),
        "usages": pd.usages(state, host),
    }
    return json_response(request, body)


async def _provider_aggregates(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    body: dict[str, Any] = {"aggregates": pd.aggregates(state, host)}
    if version >= (1, 19):
        body["resource_provider_generation"] = pd.generation(state, host)
    return json_response(request, body)


async def _provider_traits(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    body = {
        "resource_provider_generation": pd.generation(state, host),
        "traits": pd.traits(state, host),
    }
    return json_response(request, body)


async def _provider_allocations(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    allocations: dict[str, Any] = {}
    for consumer, resources in pd.consumers_on(
        state, pd.provider_uuid(state, host)
    ).items():
        entry: dict[str, Any] = {"resources": resources}
        if version >= (1, 28):
            entry["consumer_generation"] = 1
        allocations[consumer] = entry
    body = {
        "allocations": allocations,
        "resource_provider_generation": pd.generation(state, host),
    }
    return json_response(request, body)


async def _consumer_allocations(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    consumer = request.match_info["consumer"]
    per_rp = {rp: res for rp, res in state.allocations.get(consumer, {}).items() if res}
    if not per_rp:
        return json_response(request, {"allocations": {}})
    allocations = {}
    for rp_uuid, resources in per_rp.items():
        host = pd.host_by_provider(state, rp_uuid)
        gen = pd.generation(state, host) if host else 1
        allocations[rp_uuid] = {"generation": gen, "resources": dict(resources)}
    body: dict[str, Any] = {"allocations": allocations}
    if version >= (1, 12):
        body["project_id"], body["user_id"] = pd.consumer_owner(state, consumer)
    if version >= (1, 28):
        body["consumer_generation"] = 1
    if version >= (1, 38):
        body["consumer_type"] = pd.CONSUMER_TYPE
    return json_response(request, body)


async def _allocation_candidates(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    raw = request.query.get("resources")
    if not raw:
        return placement_error(request, 400, "'resources' is a required property")
    wanted = _parse_resources(raw)
    if isinstance(wanted, str):
        return placement_error(request, 400, wanted)
    unknown = sorted(set(wanted) - set(pd.RESOURCE_CLASSES))
    if unknown:
        detail = (
            "Invalid resource class in resources parameter: "
            f"No such resource class {unknown[0]}."
        )
        return placement_error(request, 400, detail)
    bad_trait = _unknown_trait(request)
    if bad_trait:
        return placement_error(request, 400, bad_trait)
    hosts = [
        h
        for h in state.scenario.hosts
        if _matches(request, state, h, version) and pd.fits(state, h, wanted)
    ]
    limit = request.query.get("limit", "")
    if limit.isdigit() and int(limit) > 0:
        hosts = hosts[: int(limit)]
    requests_, summaries = [], {}
    for host in hosts:
        rp_uuid = pd.provider_uuid(state, host)
        if version >= (1, 12):
            alloc: dict[str, Any] = {
                "allocations": {rp_uuid: {"resources": dict(wanted)}}
            }
        else:
            alloc = {
                "allocations": [
                    {"resource_provider": {"uuid": rp_uuid}, "resources": dict(wanted)}
                ]
            }
        if version >= (1, 34):
            alloc["mappings"] = {"": [rp_uuid]}
        requests_.append(alloc)
        summaries[rp_uuid] = _summary(state, host, version, wanted)
    return json_response(
        request, {"allocation_requests": requests_, "provider_summaries": summaries}
    )


def _summary(
    state: RegionState, host: str, version: Version, wanted: dict[str, int]
) -> dict[str, Any]:
    inv = pd.inventories(state.scenario.hosts[host])
    used = pd.usages(state, host)
    # from 1.27 the summary lists every class of the provider, not only requested ones
    classes = inv if version >= (1, 27) else {rc: inv[rc] for rc in wanted}
    summary: dict[str, Any] = {
        "resources": {
            rc: {"capacity": i.capacity, "used": used.get(rc, 0)}
            for rc, i in classes.items()
        }
    }
    if version >= (1, 17):
        summary["traits"] = pd.traits(state, host)
    if version >= (1, 29):
        rp_uuid = pd.provider_uuid(state, host)
        summary["parent_provider_uuid"] = None
        summary["root_provider_uuid"] = rp_uuid
    return summary


async def _list_traits(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    names: set[str] = {pd.STATUS_DISABLED_TRAIT, *pd.NOVA_COMPUTE_TRAITS}
    associated: set[str] = set()
    for host in state.scenario.hosts:
        associated |= set(pd.traits(state, host))
    names |= associated
    assoc_filter = request.query.get("associated")
    if assoc_filter is not None:
        names = names & associated if assoc_filter != "false" else names - associated
    name_filter = request.query.get("name", "")
    if name_filter.startswith("in:"):
        names &= set(name_filter[3:].split(","))
    elif name_filter.startswith("startswith:"):
        names = {n for n in names if n.startswith(name_filter[11:])}
    return json_response(request, {"traits": sorted(names)})


async def _project_usages(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    project = request.query.get("project_id")
    if not project:
        return placement_error(request, 400, "'project_id' is a required property")
    user = request.query.get("user_id")
    totals: dict[str, int] = {}
    count = 0
    for consumer, per_rp in state.allocations.items():
        owner_project, owner_user = pd.consumer_owner(state, consumer)
        if owner_project != project or (user and owner_user != user):
            continue
        count += 1
        for resources in per_rp.values():
            for rc, amount in resources.items():
                totals[rc] = totals.get(rc, 0) + amount
    if version >= (1, 38):
        grouped = (
            {pd.CONSUMER_TYPE: totals | {"consumer_count": count}} if count else {}
        )
        return json_response(request, {"usages": grouped})
    return json_response(request, {"usages": totals})
