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

from aiohttp import web

from sim.api.errors import (
    format_version,
    json_response,
    parse_microversion,
    placement_error,
)
from sim.api.fields import in_effect, render
from sim.api.placement import data as pd
from sim.api.placement import views as pv
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
        if in_effect(chosen, pv.CACHE_HEADERS_SINCE) and response.status == 200:
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
    member_of = pv.query(request.query, "member_of", version)
    if member_of and not pd.member_match(set(pd.aggregates(state, host)), member_of):
        return False
    required = pv.query(request.query, "required", version)
    return not required or pd.trait_match(set(pd.traits(state, host)), required)


async def _list_providers(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    detail = _unknown_trait(request)
    wanted: dict[str, int] = {}
    if "resources" in request.query and in_effect(version, pv.QUERY_SINCE["resources"]):
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
        found.append(pv.provider_body(state, host, version))
    return json_response(request, {"resource_providers": found})


async def _show_provider(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    host = _host_or_404(request, state)
    if isinstance(host, web.Response):
        return host
    return json_response(request, pv.provider_body(state, host, version))


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
    body = render(pv.AGGREGATES_FIELDS, pv.Provider(state, host, version), version)
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
    allocations = {
        consumer: render(pv.PROVIDER_ALLOCATION_FIELDS, resources, version)
        for consumer, resources in pd.consumers_on(
            state, pd.provider_uuid(state, host)
        ).items()
    }
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
    view = pv.Consumer(state, consumer, allocations)
    return json_response(request, render(pv.CONSUMER_FIELDS, view, version))


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
        candidate = pv.Candidate(state, host, wanted)
        requests_.append(render(pv.ALLOCATION_REQUEST_FIELDS, candidate, version))
        summaries[candidate.uuid] = render(pv.SUMMARY_FIELDS, candidate, version)
    return json_response(
        request, {"allocation_requests": requests_, "provider_summaries": summaries}
    )


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
    usage = pv.ProjectUsage(totals, count)
    return json_response(request, render(pv.USAGES_FIELDS, usage, version))
