"""OpenStackApi and the OpenStack collectors over real HTTP against the simulated region."""

from __future__ import annotations

import socket
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from diagnostics.evidence import openstack_collectors as oc
from diagnostics.evidence.base import CollectContext
from diagnostics.evidence.migration_context import summarize_migration
from diagnostics.evidence.openstack_api import OpenStackApi, choose_microversion
from diagnostics.evidence.types import (
    Aggregates,
    AvailabilityZones,
    ComputeServices,
    Hypervisors,
    InstanceActions,
    MigrationRecords,
    NetworkAgents,
    Placement,
    Ports,
    Server,
    Unavailable,
    Volumes,
)
from diagnostics.model import (
    AmbiguousVm,
    CloudUnreachable,
    ConfigError,
    MigrationRef,
    VmNotFound,
)
from diagnostics.settings import OpenStackSettings

testing = pytest.importorskip(
    "sim.testing", reason="sim.testing (the simulated region) is not importable"
)
from sim import wiring as sim_region  # noqa: E402
from sim.scenario.load import load_scenario  # noqa: E402
from sim.scenario.model import Server as ScenarioServer  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
]
SCENARIO = Path(__file__).resolve().parents[1] / "sim" / "data" / "live-web01.yaml"


@asynccontextmanager
async def connected(
    tmp_path: Path, scenario: Any = SCENARIO, cloud: str = "sim", **region_options: Any
) -> AsyncIterator[tuple[Any, OpenStackApi]]:
    """A running region and an OpenStackApi built from its clouds.yaml."""
    async with testing.start_region(scenario, tmp_path, **region_options) as region:
        settings = OpenStackSettings(cloud=cloud, clouds_file=region.paths["clouds"])
        api = OpenStackApi.from_settings(settings)
        try:
            yield region, api
        finally:
            api.close()


def context(
    api: OpenStackApi, server: Server, records: MigrationRecords | None
) -> CollectContext:
    ref = MigrationRef(server=server.name)
    migration = summarize_migration(server, records, None, ref)
    return CollectContext(
        ref=ref,
        server=server,
        migrations=records,
        actions=None,
        migration=migration,
        source_host=migration.source_host if migration else server.host,
        dest_host=migration.dest_host if migration else None,
        window=None,
        self_hosted=True,
        clients=types.SimpleNamespace(openstack=api),
    )


# ---- microversion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_min", "server_max", "chosen"),
    [
        ("2.1", "2.104", "2.100"),
        ("2.1", "2.96", "2.96"),
        ("2.1", "2.84", "2.84"),
        ("2.1", "2.60", "2.60"),
        (None, None, None),
        ("2.101", "2.104", None),
    ],
    ids=[
        "above-ours",
        "sim-default",
        "exactly-2.84",
        "old-cloud",
        "no-microversions",
        "too-new",
    ],
)
def test_choose_microversion(
    server_min: str | None, server_max: str | None, chosen: str | None
) -> None:
    """The highest version both sides understand, >= 2.84 whenever the cloud offers it."""
    assert choose_microversion(server_min, server_max) == chosen


async def test_negotiates_the_clouds_maximum(tmp_path: Path) -> None:
    """Against a 2.96 cloud every compute call is made at 2.96 (>= 2.84, so event details)."""
    async with connected(tmp_path) as (_, api):
        server = await api.resolve_server(MigrationRef(server="web-01"))
        assert api.compute_microversion == "2.96"
        assert "(compute 2.96)" in server.provenance


async def test_older_cloud_falls_back(tmp_path: Path) -> None:
    """A cloud capped at 2.60 is spoken to at 2.60, and hypervisors still bring cpu_info."""
    scenario = load_scenario(SCENARIO).model_copy(update={"microversion_max": "2.60"})
    async with connected(tmp_path, scenario) as (_, api):
        server = await api.resolve_server(MigrationRef(server="web-01"))
        assert api.compute_microversion == "2.60"
        hypervisors = await oc.collect_hypervisors(context(api, server, None))
        assert isinstance(hypervisors, Hypervisors)
        assert "(compute 2.60)" in hypervisors.provenance
        source = hypervisors.on("cmp-a-01")
        assert source is not None
        assert source.cpu_info["model"] == "Cascadelake-Server"


# ---- resolve_server -------------------------------------------------------------------------


async def test_name_resolves_to_uuid_and_uuid_to_same_server(tmp_path: Path) -> None:
    """An exact name finds the server; its uuid finds it again; provenance has a request id."""
    async with connected(tmp_path) as (region, api):
        by_name = await api.resolve_server(MigrationRef(server="web-01"))
        expected = next(
            s for s in region.state.servers.values() if s["name"] == "web-01"
        )
        assert by_name.id == expected["id"]
        assert by_name.host == "cmp-a-01"
        assert by_name.flavor.extra_specs
        assert "[req-" in by_name.provenance
        by_id = await api.resolve_server(MigrationRef(server=by_name.id))
        assert by_id.name == "web-01"


async def test_unknown_and_prefix_names_are_not_found(tmp_path: Path) -> None:
    """No server matches: VmNotFound; a prefix ('web-0') never matches 'web-01'."""
    async with connected(tmp_path) as (_, api):
        with pytest.raises(VmNotFound, match="no server named"):
            await api.resolve_server(MigrationRef(server="no-such-vm"))
        with pytest.raises(VmNotFound):
            await api.resolve_server(MigrationRef(server="web-0"))
        with pytest.raises(VmNotFound):
            await api.resolve_server(
                MigrationRef(server="00000000-0000-0000-0000-000000000000")
            )


async def test_duplicate_names_are_ambiguous(tmp_path: Path) -> None:
    """Two servers named alike: AmbiguousVm lists both with id, status and host."""
    base = load_scenario(SCENARIO)
    twin = ScenarioServer(
        name="web-01",
        id="11111111-2222-3333-4444-555555555555",
        flavor="g1.small",
        host="cmp-a-02",
    )
    scenario = base.model_copy(update={"servers": [*base.servers, twin]})
    async with connected(tmp_path, scenario) as (_, api):
        with pytest.raises(AmbiguousVm) as caught:
            await api.resolve_server(MigrationRef(server="web-01"))
    candidates = caught.value.candidates
    assert len(candidates) == 2
    assert {c[3] for c in candidates} == {"cmp-a-01", "cmp-a-02"}
    assert twin.id in {c[0] for c in candidates}


async def test_unreachable_keystone_names_the_endpoint(tmp_path: Path) -> None:
    """A closed port behind auth_url: CloudUnreachable naming that URL and 'refused'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    auth_url = f"http://127.0.0.1:{port}/identity/v3"
    clouds = {"clouds": {"dead": {"auth": {
        "auth_url": auth_url, "username": "u", "password": "p", "project_name": "p",
        "user_domain_name": "Default", "project_domain_name": "Default",
    }, "identity_api_version": 3}}}  # fmt: skip
    clouds_file = tmp_path / "clouds.yaml"
    clouds_file.write_text(yaml.safe_dump(clouds), encoding="utf-8")
    api = OpenStackApi.from_settings(
        OpenStackSettings(cloud="dead", clouds_file=clouds_file)
    )
    try:
        with pytest.raises(CloudUnreachable) as caught:
            await api.resolve_server(MigrationRef(server="web-01"))
    finally:
        api.close()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message


def test_unknown_cloud_is_a_config_error(tmp_path: Path) -> None:
    """A cloud name missing from clouds.yaml is a ConfigError naming the file and cloud."""
    clouds_file = tmp_path / "clouds.yaml"
    clouds_file.write_text("clouds: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"clouds\.yaml: openstack\.cloud 'nope'"):
        OpenStackApi.from_settings(
            OpenStackSettings(cloud="nope", clouds_file=clouds_file)
        )


async def test_slow_api_times_out(tmp_path: Path) -> None:
    """A response slower than api_timeout_s becomes 'timed out after Ns calling …'."""
    async with testing.start_region(SCENARIO, tmp_path, latency_ms=400) as region:
        settings = OpenStackSettings(
            cloud="sim", clouds_file=region.paths["clouds"], api_timeout_s=0.1
        )
        api = OpenStackApi.from_settings(settings)
        try:
            with pytest.raises(
                CloudUnreachable, match=r"timed out after 0\.1s calling"
            ):
                await api.resolve_server(MigrationRef(server="web-01"))
        finally:
            api.close()


# ---- migration records and instance actions -------------------------------------------------


async def test_records_and_matched_action_with_events(tmp_path: Path) -> None:
    """Admin: the failed live migration's record, and its action with details and traceback."""
    async with connected(tmp_path) as (_, api):
        ref = MigrationRef(server="web-01")
        server = await api.resolve_server(ref)
        records = await api.migration_records(server)
        assert isinstance(records, MigrationRecords)
        assert "GET /os-migrations?instance_uuid=" in records.provenance
        assert "[req-" in records.provenance
        migration = summarize_migration(server, records, None, ref)
        assert migration is not None
        assert (migration.kind.value, migration.status) == ("live-migration", "error")
        actions = await api.instance_actions(server, migration)
        assert isinstance(actions, InstanceActions)
        action = actions.migration_action
        assert action is not None
        assert action.action == "live-migration"
        failed = action.failed_events
        assert failed
        assert failed[0].details is not None
        assert failed[0].details.startswith("Unacceptable CPU info")
        assert failed[0].traceback is not None
        assert failed[0].host == "cmp-a-03"
        summary = summarize_migration(server, records, actions, ref)
        assert summary is not None
        assert summary.request_id == action.request_id


async def test_member_sees_no_traceback_host_or_admin_apis(tmp_path: Path) -> None:
    """Non-admin: host and traceback absent, admin-only collectors say 'needs admin role'."""
    async with connected(tmp_path, cloud="sim-member") as (_, api):
        ref = MigrationRef(server="web-01")
        server = await api.resolve_server(ref)
        assert server.host is None
        records = await api.migration_records(server)
        assert isinstance(records, Unavailable)
        assert records.reason.startswith("needs admin role")
        assert "[req-" in records.detail
        actions = await api.instance_actions(server, None)
        assert isinstance(actions, InstanceActions)
        assert actions.migration_action is not None
        assert actions.migration_action.events
        assert all(
            e.traceback is None and e.host is None
            for e in actions.migration_action.events
        )
        ctx = context(api, server, None)
        for collect in (
            oc.collect_aggregates,
            oc.collect_hypervisors,
            oc.collect_availability_zones,
        ):
            result = await collect(ctx)
            assert isinstance(result, Unavailable)
            assert result.reason.startswith("needs admin role")


# ---- collectors -----------------------------------------------------------------------------


async def test_collectors_deliver_with_request_ids(tmp_path: Path) -> None:
    """Admin: every OpenStack collector returns evidence citing calls with request ids."""
    async with connected(tmp_path) as (_, api):
        server = await api.resolve_server(MigrationRef(server="web-01"))
        records = await api.migration_records(server)
        assert isinstance(records, MigrationRecords)
        ctx = context(api, server, records)
        ports = await oc.collect_ports(ctx)
        services = await oc.collect_compute_services(ctx)
        volume_services = await oc.collect_volume_services(ctx)
        agents = await oc.collect_network_agents(ctx)
        hypervisors = await oc.collect_hypervisors(ctx)
        placement = await oc.collect_placement(ctx)
        aggregates = await oc.collect_aggregates(ctx)
        zones = await oc.collect_availability_zones(ctx)
        volumes = await oc.collect_volumes(ctx)
    for evidence in (
        ports,
        services,
        volume_services,
        agents,
        hypervisors,
        placement,
        aggregates,
        zones,
    ):
        assert not isinstance(evidence, Unavailable), evidence
        assert "[req-" in evidence.provenance
    assert isinstance(volumes, Volumes)
    assert isinstance(ports, Ports)
    assert ports.ports[0].bindings
    assert "/bindings" in ports.provenance
    assert isinstance(services, ComputeServices)
    down = services.on("cmp-c-01")
    assert down is not None
    assert down.forced_down
    assert isinstance(agents, NetworkAgents)
    assert {a.host for a in agents.agents} == {"cmp-a-01", "cmp-a-03"}
    assert isinstance(hypervisors, Hypervisors)
    assert "(compute 2.87)" in hypervisors.provenance
    dest = hypervisors.on("cmp-a-03")
    assert dest is not None
    assert dest.cpu_info["model"] == "Haswell-noTSX"
    assert isinstance(placement, Placement)
    assert {"cmp-a-01", "cmp-a-03"} <= set(placement.providers)
    assert placement.providers["cmp-a-01"].free("VCPU") is not None
    assert server.id in placement.allocations
    assert isinstance(zones, AvailabilityZones)
    assert zones.zone_of("cmp-a-03") == "az-1"
    assert isinstance(aggregates, Aggregates)
    assert [a.name for a in aggregates.of_host("cmp-a-03")] == ["agg-skylake-legacy"]


def _fail_aggregates(build_app: Any) -> Any:
    """Wrap the sim's app factory so GET /os-aggregates answers a Nova-style 500."""

    @web.middleware
    async def broken(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.endswith("/os-aggregates"):
            body = {"computeFault": {"code": 500, "message": "Unexpected API Error."}}
            return web.json_response(body, status=500)
        response: web.StreamResponse = await handler(request)
        return response

    def build(*args: Any, **kwargs: Any) -> web.Application:
        app: web.Application = build_app(*args, **kwargs)
        app.middlewares.append(broken)
        return app

    return build


async def test_api_500_becomes_unavailable_with_request_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HTTP 500 is Unavailable naming the call and status, keeping the request id."""
    monkeypatch.setattr(sim_region, "build_app", _fail_aggregates(sim_region.build_app))
    async with connected(tmp_path) as (_, api):
        server = await api.resolve_server(MigrationRef(server="web-01"))
        result = await oc.collect_aggregates(context(api, server, None))
    assert isinstance(result, Unavailable)
    assert result.reason == "GET /os-aggregates failed with HTTP 500"
    assert "[req-" in result.detail


async def test_volumes_with_attachment_status(tmp_path: Path) -> None:
    """A boot-from-volume VM: its volume, backend and attachment from the 3.27+ API."""
    async with connected(tmp_path, "storage-iscsi") as (_, api):
        server = await api.resolve_server(MigrationRef(server="vol-01"))
        volumes = await oc.collect_volumes(context(api, server, None))
    assert isinstance(volumes, Volumes)
    assert "/attachments" in volumes.provenance
    assert "[req-" in volumes.provenance
    (volume,) = volumes.volumes
    assert volume.bootable
    assert volume.backend_host is not None
    (attachment,) = volume.attachments
    assert (attachment.server_id, attachment.host) == (server.id, server.host)
    assert attachment.status == "attached"
