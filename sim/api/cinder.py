"""Cinder v3 API (read side) of the simulated region, mounted under ``/volume``.

Volumes come from the scenario's servers (``Server.volumes``); each attachment is the
server's, with the status the scenario gives (``Volume.attachment_status``).

Service states: ``cinder-volume`` runs once per backend (``<host>@<backend>`` from the
volumes' ``backend_host``). When the backend's host part is a scenario host with
``cinder_volume: true``, the service is ``up`` only while that host is reachable and its
systemd unit ``pf9-cindervolume-base`` is active (a missing entry in ``units`` counts as
active on such a host). ``cinder-scheduler`` follows the ``cinder-scheduler`` pod when the
scenario has one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from sim.api.errors import (
    cinder_error,
    format_version,
    iso_micro,
    json_response,
    parse_microversion,
)
from sim.api.fields import OMIT, Field, render
from sim.region.state import RegionState, ServerRow, stable_uuid
from sim.scenario.model import Volume

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 70)
VOLUME_UNIT = "pf9-cindervolume-base"
SCHEDULER_HOST = "ctl-01"  # where the management plane's services report from
_DEFAULT_BACKEND = "cinder-lvm@lvm"

Version = tuple[int, int]
Endpoint = Callable[[web.Request, RegionState, Version], Awaitable[web.Response]]


def add_routes(app: web.Application, state: RegionState) -> None:
    """Mount the Cinder v3 API under ``/volume`` (with or without a project id)."""
    app.router.add_get("/volume", _bind(_versions, state, MIN_VERSION))
    app.router.add_get("/volume/", _bind(_versions, state, MIN_VERSION))
    app.router.add_get("/volume/v3", _bind(_version_v3, state, MIN_VERSION))
    app.router.add_get("/volume/v3/", _bind(_version_v3, state, MIN_VERSION))
    routes: list[tuple[str, Endpoint, Version]] = [
        ("/volumes", _list_volumes, MIN_VERSION),
        ("/volumes/detail", _list_volumes_detail, MIN_VERSION),
        ("/volumes/{id}", _show_volume, MIN_VERSION),
        ("/attachments", _list_attachments, (3, 27)),
        ("/attachments/detail", _list_attachments_detail, (3, 27)),
        ("/attachments/{id}", _show_attachment, (3, 27)),
        ("/os-services", _list_services, MIN_VERSION),
    ]
    # project-less URLs (3.67+) first, so ``/v3/volumes/x`` is never read as a project
    for prefix in ("/volume/v3", "/volume/v3/{project_id}"):
        for path, endpoint, since in routes:
            app.router.add_get(prefix + path, _bind(endpoint, state, since))


def _bind(
    endpoint: Endpoint, state: RegionState, since: Version
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        version = parse_microversion(request, "volume", MIN_VERSION, MAX_VERSION)
        if version is None:
            raw = request.headers.get("OpenStack-API-Version", "")
            message = (
                f"Version {raw.split()[-1] if raw else ''} is not supported by the API. "
                f"Minimum is {format_version(MIN_VERSION)} and maximum is "
                f"{format_version(MAX_VERSION)}."
            )
            response = cinder_error(request, 406, message)
        elif version < since:
            response = cinder_error(request, 404, "The resource could not be found.")
        else:
            response = await endpoint(request, state, version)
        chosen = version or MIN_VERSION
        response.headers["OpenStack-API-Version"] = f"volume {format_version(chosen)}"
        response.headers["Vary"] = "OpenStack-API-Version"
        return response

    return handler


def _is_admin(request: web.Request, state: RegionState) -> bool:
    """Admin unless the token belongs to a user without the admin role.

    Unknown tokens never get here with the region's auth middleware in front; a bare
    app in unit tests has no tokens and is treated as admin.
    """
    token = state.tokens.get(request.headers.get("X-Auth-Token", ""))
    return token is None or "admin" in token[2]


def _version_doc(request: web.Request) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "links": [
            {
                "href": "https://docs.openstack.org/",
                "rel": "describedby",
                "type": "text/html",
            },
            {"href": f"{request.scheme}://{request.host}/volume/v3/", "rel": "self"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.volume+json;version=3",
            }
        ],
        "min_version": format_version(MIN_VERSION),
        "status": "CURRENT",
        "updated": "2023-08-31T00:00:00Z",
        "version": format_version(MAX_VERSION),
    }


async def _versions(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    # cinder answers the unversioned root with 300 Multiple Choices
    return json_response(request, {"versions": [_version_doc(request)]}, status=300)


async def _version_v3(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    return json_response(request, {"versions": [_version_doc(request)]})


VolumeUsers = list[
    tuple[ServerRow, Volume]
]  # the servers that have a volume, with its spec


def _volumes(state: RegionState) -> Iterator[tuple[str, Volume, VolumeUsers]]:
    """(volume id, spec, [(server, spec)...]) per distinct volume."""
    found: dict[str, tuple[Volume, VolumeUsers]] = {}
    for server in state.servers.values():
        for index, volume_id in enumerate(server["volume_ids"]):
            spec = server["spec"].volumes[index]
            found.setdefault(volume_id, (spec, []))[1].append((server, spec))
    for volume_id, (spec, users) in found.items():
        yield volume_id, spec, users


def _attachment_id(state: RegionState, volume_id: str, server_id: str) -> str:
    return stable_uuid(state.scenario.name, "attachment", volume_id, server_id)


def _created(state: RegionState, *parts: str) -> datetime:
    offset = int(stable_uuid(state.scenario.name, *parts)[:4], 16) % 3600
    return state.now - timedelta(days=3, seconds=offset)


@dataclass(frozen=True, slots=True)
class _VolumeView:
    """What a volume's body is built from."""

    state: RegionState
    volume_id: str
    spec: Volume
    users: VolumeUsers
    href: str  # the volume's self link

    @property
    def created(self) -> datetime:
        return _created(self.state, "volume", self.volume_id)

    @property
    def owner(self) -> ServerRow:
        return self.users[0][0]


def _attached(v: _VolumeView) -> list[dict[str, Any]]:
    attachments = []
    for server, vol in v.users:
        if vol.attachment_status != "attached":
            continue
        attachments.append(
            {
                "attached_at": iso_micro(v.created + timedelta(minutes=5)),
                "attachment_id": _attachment_id(v.state, v.volume_id, server["id"]),
                "device": "/dev/vda" if vol.boot else "/dev/vdb",
                "host_name": server["host"],
                "id": v.volume_id,
                "server_id": server["id"],
                "volume_id": v.volume_id,
            }
        )
    return attachments


def _none(_: object) -> None:
    return None


# Cinder's volume view (api/v3/views/volumes.py), each key from the version adding it
VOLUME_FIELDS: tuple[Field[_VolumeView], ...] = (
    Field("attachments", _attached),
    Field("availability_zone", lambda v: "nova"),  # cinder's storage AZ, not compute's
    Field("bootable", lambda v: "true" if v.spec.boot else "false"),
    Field("consistencygroup_id", _none),
    Field("created_at", lambda v: iso_micro(v.created)),
    Field("description", _none),
    Field("encrypted", lambda v: False),
    Field("id", lambda v: v.volume_id),
    Field("links", lambda v: [{"href": v.href, "rel": "self"}]),
    Field("metadata", lambda v: {}),
    Field("migration_status", _none),
    Field("multiattach", lambda v: len(v.users) > 1),
    Field("name", lambda v: v.spec.name),
    Field("os-vol-tenant-attr:tenant_id", lambda v: v.owner["project_id"]),
    Field("replication_status", _none),
    Field("size", lambda v: v.spec.size),
    Field("snapshot_id", _none),
    Field("source_volid", _none),
    Field("status", lambda v: v.spec.status),
    Field("updated_at", lambda v: iso_micro(v.created + timedelta(minutes=5))),
    Field("user_id", lambda v: v.owner["user_id"]),
    Field("volume_type", lambda v: v.spec.volume_type),
    Field("os-vol-host-attr:host", lambda v: v.spec.backend_host, admin=MIN_VERSION),
    Field("os-vol-mig-status-attr:migstat", _none, admin=MIN_VERSION),
    Field("os-vol-mig-status-attr:name_id", _none, admin=MIN_VERSION),
    Field("group_id", _none, since=(3, 13)),
    Field("provider_id", _none, since=(3, 21)),
    Field(
        "service_uuid",
        lambda v: stable_uuid(
            v.state.scenario.name,
            "cinder-volume",
            v.spec.backend_host.partition("#")[0],
        ),
        since=(3, 48),
    ),
    Field("shared_targets", lambda v: False, since=(3, 48)),
    Field("cluster_name", _none, admin=(3, 61)),
    Field(
        "volume_type_id",
        lambda v: stable_uuid(v.state.scenario.name, "vtype", v.spec.volume_type),
        since=(3, 63),
    ),
    Field("consumes_quota", lambda v: True, since=(3, 65)),
)


def _volume_body(
    state: RegionState,
    request: web.Request,
    version: Version,
    volume_id: str,
    spec: Volume,
    users: VolumeUsers,
) -> dict[str, Any]:
    href = (
        f"{request.scheme}://{request.host}/volume/v3/"
        f"{users[0][0]['project_id']}/volumes/{volume_id}"
    )
    view = _VolumeView(state, volume_id, spec, users, href)
    return render(VOLUME_FIELDS, view, version, is_admin=_is_admin(request, state))


def _filtered_volumes(
    request: web.Request, state: RegionState, version: Version
) -> list[dict[str, Any]]:
    bodies = [_volume_body(state, request, version, *v) for v in _volumes(state)]
    for key in ("name", "status", "id"):
        if key in request.query:
            bodies = [b for b in bodies if b[key] == request.query[key]]
    return bodies


async def _list_volumes(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    bodies = _filtered_volumes(request, state, version)
    brief = [{"id": b["id"], "links": b["links"], "name": b["name"]} for b in bodies]
    return json_response(request, {"volumes": brief})


async def _list_volumes_detail(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    return json_response(
        request, {"volumes": _filtered_volumes(request, state, version)}
    )


async def _show_volume(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    volume_id = request.match_info["id"]
    for vid, spec, users in _volumes(state):
        if vid == volume_id:
            body = _volume_body(state, request, version, vid, spec, users)
            return json_response(request, {"volume": body})
    return cinder_error(request, 404, f"Volume {volume_id} could not be found.")


def _attachments(state: RegionState) -> list[dict[str, Any]]:
    found = []
    for volume_id, _spec, users in _volumes(state):
        created = _created(state, "volume", volume_id)
        for server, vol in users:
            status = vol.attachment_status
            if status == "detached":
                continue  # cinder deletes the attachment record on detach
            attachment_id = _attachment_id(state, volume_id, server["id"])
            connected = status == "attached"
            found.append(
                {
                    "id": attachment_id,
                    "status": status,
                    "instance": server["id"],
                    "volume_id": volume_id,
                    "attached_at": iso_micro(created + timedelta(minutes=5))
                    if connected
                    else None,
                    "detached_at": None,
                    "attach_mode": "rw" if connected else "null",
                    "connection_info": {
                        "driver_volume_type": "iscsi",
                        "target_iqn": f"iqn.2010-10.org.openstack:volume-{volume_id}",
                        "target_portal": "10.0.0.50:3260",
                        "target_lun": 1,
                        "access_mode": "rw",
                        "attachment_id": attachment_id,
                        "encrypted": False,
                        "discard": False,
                    }
                    if connected
                    else {},
                }
            )
    return found


def _filtered_attachments(
    request: web.Request, state: RegionState
) -> list[dict[str, Any]]:
    items = _attachments(state)
    for key, field in (
        ("volume_id", "volume_id"),
        ("instance_id", "instance"),
        ("status", "status"),
    ):
        if key in request.query:
            items = [i for i in items if i[field] == request.query[key]]
    return items


async def _list_attachments(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    keys = ("id", "status", "instance", "volume_id")
    items = [{k: i[k] for k in keys} for i in _filtered_attachments(request, state)]
    return json_response(request, {"attachments": items})


async def _list_attachments_detail(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    return json_response(
        request, {"attachments": _filtered_attachments(request, state)}
    )


async def _show_attachment(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    attachment_id = request.match_info["id"]
    for item in _attachments(state):
        if item["id"] == attachment_id:
            return json_response(request, {"attachment": item})
    message = f"VolumeAttachment {attachment_id} could not be found."
    return cinder_error(request, 404, message)


@dataclass(frozen=True, slots=True)
class _ServiceView:
    binary: str
    host: str
    zone: str
    up: bool
    stamp: datetime  # when an up service last reported

    @property
    def volume(self) -> bool:
        return self.binary == "cinder-volume"


def _volume_only(value: Callable[[_ServiceView], Any]) -> Callable[[_ServiceView], Any]:
    """Keys Cinder shows only for cinder-volume (its backend's replication state)."""
    return lambda s: value(s) if s.volume else OMIT


def _state(s: _ServiceView) -> str:
    return "up" if s.up else "down"


# Cinder's service view (api/contrib/services.py)
SERVICE_FIELDS: tuple[Field[_ServiceView], ...] = (
    Field("binary", lambda s: s.binary),
    Field("disabled_reason", _none),
    Field("host", lambda s: s.host),
    Field("state", _state),
    Field("status", lambda s: "enabled"),
    Field(
        "updated_at",
        lambda s: iso_micro(s.stamp if s.up else s.stamp - timedelta(minutes=20)),
    ),
    Field("zone", lambda s: s.zone),
    Field("replication_status", _volume_only(lambda s: "disabled")),
    Field("active_backend_id", _volume_only(_none)),
    Field("frozen", _volume_only(lambda s: False)),
    Field("backend_state", _volume_only(_state), since=(3, 49)),
    Field("cluster", _none, since=(3, 7)),
)


def _services(state: RegionState, version: Version) -> list[dict[str, Any]]:
    scenario = state.scenario
    stamp = state.now - timedelta(seconds=8)
    scheduler_pod = next(
        (p for p in scenario.pods if p.deployment == "cinder-scheduler"), None
    )
    scheduler_up = scheduler_pod is None or (
        scheduler_pod.phase == "Running" and scheduler_pod.ready
    )
    rows = [("cinder-scheduler", SCHEDULER_HOST, "nova", scheduler_up)]
    backends = {spec.backend_host.partition("#")[0] for _, spec, _ in _volumes(state)}
    for name, spec in scenario.hosts.items():
        if spec.cinder_volume and not any(b.startswith(name + "@") for b in backends):
            backends.add(f"{name}@lvm")
    for backend in sorted(backends or {_DEFAULT_BACKEND}):
        host = scenario.hosts.get(backend.partition("@")[0])
        up = True
        if host is not None and host.cinder_volume:
            up = host.reachable and host.units.get(VOLUME_UNIT, "active") == "active"
        rows.append(("cinder-volume", backend, host.az if host else "nova", up))
    return [
        render(
            SERVICE_FIELDS, _ServiceView(binary, host_name, zone, up, stamp), version
        )
        for binary, host_name, zone, up in rows
    ]


async def _list_services(
    request: web.Request, state: RegionState, version: Version
) -> web.Response:
    if not _is_admin(request, state):
        message = (
            "Policy doesn't allow volume_extension:services:index to be performed."
        )
        return cinder_error(request, 403, message)
    services = _services(state, version)
    for key in ("host", "binary"):
        if key in request.query:
            services = [s for s in services if s[key] == request.query[key]]
    return json_response(request, {"services": services})
