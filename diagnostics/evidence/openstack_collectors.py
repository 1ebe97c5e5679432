"""Collectors over the OpenStack APIs (openstacksdk proxy layer), one per evidence type.

Each reads ``ctx.clients.openstack`` (an ``OpenStackApi``), makes its calls through
``OpenStackApi.call`` (the service's worker pool, timeout, request ids recorded), issues
every request as soon as the answers it needs are in (bindings of all ports at once,
each Placement provider's four reads at once), and returns evidence
whose provenance lists every call with its request id, or ``Unavailable`` with the reason
("needs admin role (…)", "not found", "timed out after 15s calling …", "cannot reach …").
The Server itself (flavor extra specs, image properties) comes from the bootstrap.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from keystoneauth1 import discover
from openstack import exceptions as sdk_exceptions
from openstack.warnings import RemovedFieldWarning

from diagnostics.evidence import openstack_convert as convert
from diagnostics.evidence.base import CollectContext, CollectorError, collector
from diagnostics.evidence.executors import Family
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.openstack_calls import ApiCall, provenance
from diagnostics.evidence.types import (
    Aggregates,
    AvailabilityZones,
    ComputeServices,
    Hypervisors,
    NetworkAgents,
    Placement,
    PortBinding,
    Ports,
    ProviderView,
    Unavailable,
    VolumeInfo,
    Volumes,
    VolumeServices,
)
from diagnostics.evidence.urls import segment

T = TypeVar("T")

# We ask for os-hypervisors at 2.87 on purpose (cpu_info); the SDK warns on every
# hypervisor about the capacity fields 2.88 removed, which is noise in our logs.
warnings.filterwarnings("ignore", category=RemovedFieldWarning)

# cpu_info and the capacity fields were removed from os-hypervisors at 2.88.
HYPERVISOR_CPU_INFO_MICROVERSION = "2.87"
# 1.6 is the first to serve traits; nothing we read changed up to 1.14.
PLACEMENT_MICROVERSION = "1.14"


async def guarded(
    ctx: CollectContext, body: Callable[[OpenStackApi], Awaitable[T]]
) -> T | Unavailable:
    """Run ``body`` with the diagnosis' OpenStackApi; its CollectorError → Unavailable."""
    api = getattr(ctx.clients, "openstack", None)
    if not isinstance(api, OpenStackApi):
        return Unavailable(reason="the OpenStack API is not configured")
    try:
        return await body(api)
    except CollectorError as exc:
        return Unavailable(reason=exc.reason, detail=exc.detail)


def get_json(proxy: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    """GET a URL relative to the proxy's endpoint; HTTP errors raise the SDK's exceptions."""
    response = proxy.get(url, raise_exc=False, **kwargs)
    sdk_exceptions.raise_from_response(response)
    body = response.json()
    return body if isinstance(body, dict) else {}


def _hosts(ctx: CollectContext) -> tuple[str, ...]:
    """Source and destination (or target) host names, without blanks or repeats.

    With ``--target-host`` the failed move's own destination comes last: its API view
    (its Placement provider, its agents) is what explains that move's failure, while
    the target's explains only whether the target could take the VM.
    """
    failed_at = ctx.migration.dest_host if ctx.migration is not None else None
    hosts = (ctx.source_host, ctx.dest_host, failed_at)
    return tuple(dict.fromkeys(h for h in hosts if h))


# ---- step 1: ports and volumes -------------------------------------------------------------


def _bindings(api: OpenStackApi, port_id: str) -> tuple[PortBinding, ...] | str:
    """GET /v2.0/ports/{id}/bindings (no SDK proxy method exists); a reason if refused."""
    try:
        body = get_json(api.conn.network, f"/ports/{segment(port_id)}/bindings")
    except sdk_exceptions.ForbiddenException:
        return "bindings need admin role"
    except sdk_exceptions.NotFoundException:
        return "binding-extended API not available"
    return tuple(convert.binding_from_json(b) for b in body.get("bindings") or ())


@collector(Ports, needs_action=False)
async def collect_ports(ctx: CollectContext) -> Ports | Unavailable:
    """The VM's Neutron ports (device_id) and every binding of each (active and inactive)."""

    async def body(api: OpenStackApi) -> Ports:
        server_id = ctx.server.id
        ports, calls = await api.call(
            "GET /v2.0/ports",
            lambda: list(api.conn.network.ports(device_id=server_id)),
            family=Family.NEUTRON,
        )
        listed = calls
        each = await asyncio.gather(
            *(
                api.call(
                    "GET /v2.0/ports/{id}/bindings",
                    partial(_bindings, api, str(port.id)),
                    family=Family.NEUTRON,
                    after=listed,
                )
                for port in ports
            )
        )
        infos = []
        notes: list[str] = []
        for port, (bindings, more) in zip(ports, each, strict=True):
            port_id = str(port.id)
            calls += more
            if isinstance(bindings, str):
                notes.append(f"{port_id}: {bindings}")
                bindings = ()
            infos.append(convert.port_from_sdk(port, bindings))
        cited = provenance(calls, f"GET /v2.0/ports?device_id={server_id}")
        return Ports(provenance="; ".join([cited, *notes]), ports=tuple(infos))

    return await guarded(ctx, body)


def _attachments(api: OpenStackApi, volume_id: str) -> list[Any]:
    try:
        # The attachments API (3.27+) has the attachment status; older clouds 404 here.
        return list(api.conn.block_storage.attachments(volume_id=volume_id))
    except (sdk_exceptions.NotFoundException, sdk_exceptions.BadRequestException):
        return []


async def _volume(
    api: OpenStackApi, volume_id: str
) -> tuple[VolumeInfo, tuple[ApiCall, ...]]:
    """The volume and its attachments, both asked at once (each needs only the id)."""
    (volume, calls), (attachments, more) = await asyncio.gather(
        api.call(
            "GET /volumes/{id}",
            partial(api.conn.block_storage.get_volume, segment(volume_id)),
            family=Family.CINDER,
        ),
        api.call(
            "GET /attachments",
            partial(_attachments, api, volume_id),
            family=Family.CINDER,
        ),
    )
    return convert.volume_from_sdk(volume, attachments), calls + more


@collector(Volumes, needs_action=False)
async def collect_volumes(ctx: CollectContext) -> Volumes | Unavailable:
    """The VM's Cinder volumes with their attachments (status from the 3.27+ API)."""

    async def body(api: OpenStackApi) -> Volumes:
        calls: tuple[ApiCall, ...] = ()
        volumes: list[VolumeInfo] = []
        each = await asyncio.gather(
            *(_volume(api, volume_id) for volume_id in ctx.server.volume_ids)
        )
        for volume, more in each:
            calls += more
            volumes.append(volume)
        fallback = f"GET /servers/{ctx.server.id}: no volumes attached"
        return Volumes(provenance=provenance(calls, fallback), volumes=tuple(volumes))

    return await guarded(ctx, body)


# ---- step 2: services and agents -----------------------------------------------------------


@collector(ComputeServices, needs_action=False)
async def collect_compute_services(
    ctx: CollectContext,
) -> ComputeServices | Unavailable:
    """Every nova-compute service: status, state, forced_down, disabled reason."""

    async def body(api: OpenStackApi) -> ComputeServices:
        found, calls = await api.call(
            "GET /os-services",
            lambda: list(api.conn.compute.services(binary="nova-compute")),
        )
        return ComputeServices(
            provenance=provenance(calls, "GET /os-services?binary=nova-compute"),
            services=tuple(convert.service_from_sdk(s) for s in found),
        )

    return await guarded(ctx, body)


@collector(VolumeServices, needs_action=False)
async def collect_volume_services(ctx: CollectContext) -> VolumeServices | Unavailable:
    """Cinder's services (cinder-volume per backend, cinder-scheduler)."""

    async def body(api: OpenStackApi) -> VolumeServices:
        found, calls = await api.call(
            "GET /os-services (block storage)",
            lambda: list(api.conn.block_storage.services()),
            family=Family.CINDER,
        )
        return VolumeServices(
            provenance=provenance(calls, "GET /os-services (block storage)"),
            services=tuple(convert.service_from_sdk(s) for s in found),
        )

    return await guarded(ctx, body)


@collector(NetworkAgents, needs_action=False)
async def collect_network_agents(ctx: CollectContext) -> NetworkAgents | Unavailable:
    """Neutron agents on the source and destination hosts (liveness, admin state)."""

    async def body(api: OpenStackApi) -> NetworkAgents | Unavailable:
        hosts = _hosts(ctx)
        if not hosts:
            return Unavailable(reason="no source or destination host known")

        def agents(host: str) -> list[Any]:
            return list(api.conn.network.agents(host=host))

        each = await asyncio.gather(
            *(
                api.call("GET /v2.0/agents", partial(agents, h), family=Family.NEUTRON)
                for h in hosts
            )
        )
        found = [a for listed, _ in each for a in listed]
        calls = tuple(c for _, more in each for c in more)
        return NetworkAgents(
            provenance=provenance(calls, "GET /v2.0/agents"),
            agents=tuple(convert.agent_from_sdk(a) for a in found),
        )

    return await guarded(ctx, body)


# ---- step 5: hypervisors and Placement -----------------------------------------------------


def _hypervisor_microversion(negotiated: str | None) -> str | None:
    """2.87 (the last with cpu_info) when the negotiated version is at or above it."""
    if negotiated is None:
        return None
    wanted = discover.normalize_version_number(HYPERVISOR_CPU_INFO_MICROVERSION)
    if discover.normalize_version_number(negotiated) >= wanted:
        return HYPERVISOR_CPU_INFO_MICROVERSION
    return negotiated


@collector(Hypervisors, needs_action=False)
async def collect_hypervisors(ctx: CollectContext) -> Hypervisors | Unavailable:
    """os-hypervisors/detail at 2.87, so cpu_info (removed at 2.88) is included."""

    async def body(api: OpenStackApi) -> Hypervisors:
        def listing() -> list[Any]:
            version = _hypervisor_microversion(api.compute_microversion)
            query = {"microversion": version} if version else {}
            return list(api.conn.compute.hypervisors(details=True, **query))

        found, calls = await api.call("GET /os-hypervisors/detail", listing)
        cited = provenance(calls, "GET /os-hypervisors/detail")
        return Hypervisors(
            provenance=f"{cited}; cpu_info needs compute 2.87 (removed at 2.88)",
            hypervisors=tuple(convert.hypervisor_from_sdk(h) for h in found),
        )

    return await guarded(ctx, body)


_PROVIDER_PARTS = ("inventories", "usages", "traits", "aggregates")


def _placement_get(
    api: OpenStackApi, url: str, params: dict[str, str] | None = None
) -> dict[str, Any]:
    return get_json(
        api.conn.placement, url, params=params, microversion=PLACEMENT_MICROVERSION
    )


async def _provider(
    api: OpenStackApi, name: str
) -> tuple[ProviderView | None, tuple[ApiCall, ...]]:
    """The provider named ``name``, then its four reads at once (each needs its uuid)."""
    listed, calls = await api.call(
        "GET /resource_providers",
        partial(_placement_get, api, "/resource_providers", {"name": name}),
        family=Family.PLACEMENT,
    )
    providers = listed.get("resource_providers") or []
    if not providers:
        return None, calls
    rp = providers[0]
    base = f"/resource_providers/{quote(str(rp['uuid']), safe='')}"
    parts = await asyncio.gather(
        *(
            api.call(
                f"GET /resource_providers/{{uuid}}/{part}",
                partial(_placement_get, api, f"{base}/{part}"),
                family=Family.PLACEMENT,
                after=calls,
            )
            for part in _PROVIDER_PARTS
        )
    )
    bodies = dict(zip(_PROVIDER_PARTS, (body for body, _ in parts), strict=True))
    view = convert.provider_from_json(
        rp,
        inventories=bodies["inventories"],
        usages=bodies["usages"],
        traits=bodies["traits"],
        aggregates=bodies["aggregates"],
    )
    return view, calls + tuple(c for _, more in parts for c in more)


async def _allocations(
    api: OpenStackApi, consumer: str
) -> tuple[dict[str, Any], tuple[ApiCall, ...]]:
    url = f"/allocations/{quote(consumer, safe='')}"
    return await api.call(
        "GET /allocations/{consumer}",
        partial(_placement_get, api, url),
        family=Family.PLACEMENT,
    )


def _provider_names(ctx: CollectContext) -> tuple[str, ...]:
    # Providers are named after hypervisor_hostname, which equals the Nova host name for
    # libvirt unless the node reports an FQDN: try both for the source.
    candidates: Iterable[str | None] = (ctx.server.hypervisor_hostname, *_hosts(ctx))
    return tuple(dict.fromkeys(n for n in candidates if n))


@collector(Placement, needs_action=False)
async def collect_placement(ctx: CollectContext) -> Placement | Unavailable:
    """Source and destination providers, and the allocations of the VM and the migration.

    Every host's provider and every consumer's allocations are asked at once: none of
    them needs another's answer.
    """

    async def body(api: OpenStackApi) -> Placement:
        names = _provider_names(ctx)
        consumers = [ctx.server.id]
        if ctx.migration is not None and ctx.migration.uuid:
            consumers.append(ctx.migration.uuid)
        looked_up, held_by = await asyncio.gather(
            asyncio.gather(*(_provider(api, name) for name in names)),
            asyncio.gather(*(_allocations(api, c) for c in consumers)),
        )
        calls: tuple[ApiCall, ...] = ()
        providers: dict[str, ProviderView] = {}
        for view, more in looked_up:
            calls += more
            if view is not None:
                providers[view.name] = view
        allocations: dict[str, dict[str, dict[str, int]]] = {}
        for consumer, (held, more) in zip(consumers, held_by, strict=True):
            calls += more
            allocations[consumer] = convert.allocations_from_json(held)
        return Placement(
            provenance=provenance(calls, "GET /resource_providers"),
            providers=providers,
            allocations=allocations,
        )

    return await guarded(ctx, body)


# ---- step 6: aggregates and availability zones ---------------------------------------------


@collector(Aggregates, needs_action=False)
async def collect_aggregates(ctx: CollectContext) -> Aggregates | Unavailable:
    """Host aggregates with their hosts, AZ and metadata (admin)."""

    async def body(api: OpenStackApi) -> Aggregates:
        found, calls = await api.call(
            "GET /os-aggregates", lambda: list(api.conn.compute.aggregates())
        )
        return Aggregates(
            provenance=provenance(calls, "GET /os-aggregates"),
            aggregates=tuple(convert.aggregate_from_sdk(a) for a in found),
        )

    return await guarded(ctx, body)


@collector(AvailabilityZones, needs_action=False)
async def collect_availability_zones(
    ctx: CollectContext,
) -> AvailabilityZones | Unavailable:
    """os-availability-zone/detail: which hosts are in which zone (admin)."""

    async def body(api: OpenStackApi) -> AvailabilityZones:
        found, calls = await api.call(
            "GET /os-availability-zone/detail",
            lambda: list(api.conn.compute.availability_zones(details=True)),
        )
        return AvailabilityZones(
            provenance=provenance(calls, "GET /os-availability-zone/detail"),
            zones=convert.zones_from_sdk(found),
        )

    return await guarded(ctx, body)
