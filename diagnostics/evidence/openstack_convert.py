"""Pure conversions: openstacksdk resources and API JSON → our frozen evidence types.

SDK resources type every field as ``Any``; this module is where that stops. Each function
reads attributes by the SDK's names (``getattr`` with a default, because a field is absent
below the microversion that added it or when policy hides it from non-admins) and returns
values that mypy can check downstream. Placement and the Neutron bindings arrive as JSON
dicts (fetched with the proxy's ``get``), so their converters take mappings.

Times are normalised to aware UTC: Nova and Cinder write naive ISO strings that are UTC.

Free text the services write (a server fault's message and details, an event's traceback
and details, an action's message, a service's disabled reason, aggregate metadata) is
redacted here, where it enters the model: a Nova traceback can carry a ``transport_url``
with its password or a token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from diagnostics.evidence.redact import redact
from diagnostics.evidence.types import (
    ActionEvent,
    AgentInfo,
    AggregateInfo,
    Fault,
    FlavorInfo,
    HypervisorInfo,
    InstanceAction,
    Inventory,
    MigrationRecord,
    PortBinding,
    PortInfo,
    ProviderView,
    Server,
    ServiceInfo,
    VolumeAttachmentInfo,
    VolumeInfo,
)
from diagnostics.times import parse_time


def _str(value: object) -> str | None:
    """A non-empty string or None (the APIs use both null and "" for "nothing")."""
    if value is None:
        return None
    text = str(value)
    return text or None


def _text(value: object) -> str | None:
    """Free text written by a service: a non-empty, redacted string or None."""
    text = _str(value)
    return redact(text) if text else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str | float):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _str_map(value: object) -> dict[str, str]:
    """A mapping of scalars as strings; nested values (links, lists) are dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k): str(v)
        for k, v in value.items()
        if isinstance(v, str | int | float | bool) and not isinstance(v, Mapping)
    }


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute of an SDK resource or key of a dict, whichever ``obj`` is."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


# ---- compute --------------------------------------------------------------------------------


def flavor_info(flavor: Any) -> FlavorInfo:
    """The flavor embedded in a server (2.47+: name, sizes and extra specs)."""
    return FlavorInfo(
        name=str(
            _get(flavor, "original_name")
            or _get(flavor, "name")
            or _get(flavor, "id")
            or ""
        ),
        vcpus=_int(_get(flavor, "vcpus")) or 0,
        ram_mb=_int(_get(flavor, "ram")) or 0,
        disk_gb=_int(_get(flavor, "disk")) or 0,
        ephemeral_gb=_int(_get(flavor, "ephemeral")) or 0,
        swap_mb=_int(_get(flavor, "swap")) or 0,
        extra_specs=_str_map(_get(flavor, "extra_specs")),
    )


def _fault(fault: object) -> Fault | None:
    if not isinstance(fault, Mapping) or not fault:
        return None
    return Fault(
        code=_int(fault.get("code")) or 0,
        message=_text(fault.get("message")) or "",
        details=_text(fault.get("details")) or "",
        created=parse_time(fault.get("created")),
    )


def _image(image: Any) -> tuple[str | None, dict[str, str]]:
    """Image id and (2.98+) embedded properties; boot-from-volume servers have no image."""
    if not image:
        return None, {}
    if isinstance(image, str):
        return image or None, {}
    properties = _str_map(_get(image, "properties"))
    return _str(_get(image, "id")), properties


def server_from_sdk(server: Any, *, provenance: str) -> Server:
    """``openstack.compute.v2.server.Server`` → Server (admin fields None when hidden)."""
    image_id, image_properties = _image(_get(server, "image"))
    attached = _get(server, "attached_volumes") or ()
    volume_ids = tuple(str(_get(v, "id")) for v in attached if _get(v, "id"))
    return Server(
        provenance=provenance,
        id=str(_get(server, "id")),
        name=str(_get(server, "name") or ""),
        status=str(_get(server, "status") or ""),
        vm_state=_str(_get(server, "vm_state")),
        task_state=_str(_get(server, "task_state")),
        power_state=_int(_get(server, "power_state")),
        host=_str(_get(server, "compute_host")),
        hypervisor_hostname=_str(_get(server, "hypervisor_hostname")),
        instance_name=_str(_get(server, "instance_name")),
        availability_zone=_str(_get(server, "availability_zone")),
        pinned_availability_zone=_str(_get(server, "pinned_availability_zone")),
        host_status=_get(server, "host_status"),
        locked=bool(_get(server, "is_locked")),
        flavor=flavor_info(_get(server, "flavor") or {}),
        image_id=image_id,
        image_properties=image_properties,
        volume_ids=volume_ids,
        fault=_fault(_get(server, "fault")),
        project_id=str(_get(server, "project_id") or ""),
        updated=parse_time(_get(server, "updated_at")),
    )


def migration_record_from_sdk(migration: Any) -> MigrationRecord:
    """``openstack.compute.v2.migration.Migration`` → MigrationRecord.

    The SDK makes ``uuid`` the resource id when present (2.59+), so the numeric id Nova
    shows in ``openstack server migration list`` is read from the body.
    """
    body = getattr(getattr(migration, "_body", None), "attributes", None)
    numeric = body.get("id") if isinstance(body, Mapping) else _get(migration, "id")
    return MigrationRecord(
        id=str(numeric),
        uuid=_str(_get(migration, "uuid")),
        kind=str(_get(migration, "migration_type") or "migration"),
        status=str(_get(migration, "status") or ""),
        source_compute=_str(_get(migration, "source_compute")),
        dest_compute=_str(_get(migration, "dest_compute")),
        dest_host=_str(_get(migration, "dest_host")),
        source_node=_str(_get(migration, "source_node")),
        dest_node=_str(_get(migration, "dest_node")),
        created_at=parse_time(_get(migration, "created_at")),
        updated_at=parse_time(_get(migration, "updated_at")),
    )


def newest_first(records: Iterable[MigrationRecord]) -> tuple[MigrationRecord, ...]:
    """Order by creation time, newest first (records without a time go last)."""
    floor = datetime.min.replace(tzinfo=UTC)
    return tuple(sorted(records, key=lambda r: r.created_at or floor, reverse=True))


def action_event_from_sdk(event: Any) -> ActionEvent:
    """One instance-action event; traceback and host are admin-only, details 2.84+."""
    return ActionEvent(
        event=str(_get(event, "event") or ""),
        result=_str(_get(event, "result")),
        start_time=parse_time(_get(event, "start_time")),
        finish_time=parse_time(_get(event, "finish_time")),
        traceback=_text(_get(event, "traceback")),
        host=_str(_get(event, "host")),
        details=_text(_get(event, "details")),
    )


def instance_action_from_sdk(action: Any) -> InstanceAction:
    """``openstack.compute.v2.server_action.ServerAction`` → InstanceAction."""
    return InstanceAction(
        action=str(_get(action, "action") or ""),
        request_id=str(_get(action, "request_id") or ""),
        start_time=parse_time(_get(action, "start_time")),
        message=_text(_get(action, "message")),
        user_id=_str(_get(action, "user_id")),
        events=tuple(action_event_from_sdk(e) for e in (_get(action, "events") or ())),
    )


def service_from_sdk(service: Any) -> ServiceInfo:
    """A compute or block-storage service (the SDK names both fields the same)."""
    return ServiceInfo(
        binary=str(_get(service, "binary") or ""),
        host=str(_get(service, "host") or ""),
        zone=_str(_get(service, "availability_zone")),
        status=str(_get(service, "status") or ""),
        state=str(_get(service, "state") or ""),
        forced_down=bool(_get(service, "is_forced_down")),
        disabled_reason=_text(_get(service, "disabled_reason")),
        updated_at=parse_time(_get(service, "updated_at")),
    )


def hypervisor_from_sdk(hypervisor: Any) -> HypervisorInfo:
    """A hypervisor; ``cpu_info`` is only present up to microversion 2.87."""
    service = _get(hypervisor, "service_details") or {}
    cpu_info = _get(hypervisor, "cpu_info")
    return HypervisorInfo(
        id=str(_get(hypervisor, "id")),
        hostname=str(_get(hypervisor, "name") or ""),
        service_host=str(_get(service, "host") or ""),
        state=str(_get(hypervisor, "state") or ""),
        status=str(_get(hypervisor, "status") or ""),
        host_ip=_str(_get(hypervisor, "host_ip")),
        hypervisor_type=_str(_get(hypervisor, "hypervisor_type")),
        hypervisor_version=_int(_get(hypervisor, "hypervisor_version")),
        cpu_info=dict(cpu_info) if isinstance(cpu_info, Mapping) else {},
    )


def aggregate_from_sdk(aggregate: Any) -> AggregateInfo:
    return AggregateInfo(
        id=str(_get(aggregate, "id")),
        name=str(_get(aggregate, "name") or ""),
        availability_zone=_str(_get(aggregate, "availability_zone")),
        hosts=tuple(str(h) for h in (_get(aggregate, "hosts") or ())),
        metadata={
            k: redact(v) for k, v in _str_map(_get(aggregate, "metadata")).items()
        },
    )


def zones_from_sdk(zones: Iterable[Any]) -> dict[str, tuple[str, ...]]:
    """os-availability-zone/detail → zone name → its hosts (every service's host)."""
    result: dict[str, tuple[str, ...]] = {}
    for zone in zones:
        name = str(_get(zone, "name") or "")
        hosts = _get(zone, "hosts") or {}
        result[name] = (
            tuple(sorted(str(h) for h in hosts)) if isinstance(hosts, Mapping) else ()
        )
    return result


# ---- network and block storage ---------------------------------------------------------------


def binding_from_json(binding: Mapping[str, Any]) -> PortBinding:
    """One entry of GET /v2.0/ports/{id}/bindings (binding-extended)."""
    return PortBinding(
        host=str(binding.get("host") or ""),
        status=str(binding.get("status") or ""),
        vif_type=str(binding.get("vif_type") or ""),
    )


def port_from_sdk(port: Any, bindings: Iterable[PortBinding] = ()) -> PortInfo:
    """``openstack.network.v2.port.Port`` (+ its bindings) → PortInfo."""
    return PortInfo(
        id=str(_get(port, "id")),
        status=str(_get(port, "status") or ""),
        vif_type=str(_get(port, "binding_vif_type") or ""),
        vnic_type=str(_get(port, "binding_vnic_type") or ""),
        binding_host=_str(_get(port, "binding_host_id")),
        profile=_str_map(_get(port, "binding_profile")),
        bindings=tuple(bindings),
        network_id=str(_get(port, "network_id") or ""),
    )


def agent_from_sdk(agent: Any) -> AgentInfo:
    return AgentInfo(
        agent_type=str(_get(agent, "agent_type") or ""),
        host=str(_get(agent, "host") or ""),
        alive=bool(_get(agent, "is_alive")),
        admin_state_up=bool(_get(agent, "is_admin_state_up")),
        binary=str(_get(agent, "binary") or ""),
    )


def volume_from_sdk(volume: Any, attachments: Iterable[Any] = ()) -> VolumeInfo:
    """A Cinder volume; attachments from the 3.27+ API when given, else the volume's list.

    The attachments API carries the status (attaching / reserved / error_attaching) that
    the legacy ``volume.attachments`` list lacks; the legacy list carries the host name.
    """
    legacy = list(_get(volume, "attachments") or ())
    host_of = {
        str(_get(a, "attachment_id")): _str(_get(a, "host_name"))
        for a in legacy
        if _get(a, "attachment_id")
    }
    infos: list[VolumeAttachmentInfo] = []
    for attachment in attachments:
        attachment_id = str(_get(attachment, "id"))
        connector = _get(attachment, "connector")
        host = host_of.get(attachment_id) or (
            _str(_get(connector, "host")) if connector else None
        )
        infos.append(
            VolumeAttachmentInfo(
                attachment_id=attachment_id,
                server_id=str(_get(attachment, "instance") or ""),
                host=host,
                status=str(_get(attachment, "status") or ""),
            )
        )
    if not infos:
        infos = [
            VolumeAttachmentInfo(
                attachment_id=str(_get(a, "attachment_id") or ""),
                server_id=str(_get(a, "server_id") or ""),
                host=_str(_get(a, "host_name")),
                status="attached",
            )
            for a in legacy
        ]
    return VolumeInfo(
        id=str(_get(volume, "id")),
        name=str(_get(volume, "name") or ""),
        status=str(_get(volume, "status") or ""),
        backend_host=_str(_get(volume, "host")),
        volume_type=_str(_get(volume, "volume_type")),
        bootable=bool(_get(volume, "is_bootable")),
        attachments=tuple(infos),
    )


# ---- placement -------------------------------------------------------------------------------


def inventories_from_json(body: Mapping[str, Any]) -> dict[str, Inventory]:
    """GET /resource_providers/{uuid}/inventories → resource class → Inventory."""
    result: dict[str, Inventory] = {}
    for resource_class, inv in (body.get("inventories") or {}).items():
        result[str(resource_class)] = Inventory(
            total=_int(inv.get("total")) or 0,
            reserved=_int(inv.get("reserved")) or 0,
            allocation_ratio=float(inv.get("allocation_ratio", 1.0)),
            min_unit=_int(inv.get("min_unit")) or 1,
            max_unit=_int(inv.get("max_unit")) or 0,
            step_size=_int(inv.get("step_size")) or 1,
        )
    return result


def provider_from_json(
    provider: Mapping[str, Any],
    *,
    inventories: Mapping[str, Any],
    usages: Mapping[str, Any],
    traits: Mapping[str, Any],
    aggregates: Mapping[str, Any],
) -> ProviderView:
    """A resource provider and the four sub-resources Placement serves for it."""
    return ProviderView(
        uuid=str(provider.get("uuid") or ""),
        name=str(provider.get("name") or ""),
        inventories=inventories_from_json(inventories),
        usages={str(k): _int(v) or 0 for k, v in (usages.get("usages") or {}).items()},
        traits=frozenset(str(t) for t in traits.get("traits") or ()),
        aggregates=frozenset(str(a) for a in aggregates.get("aggregates") or ()),
    )


def allocations_from_json(body: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """GET /allocations/{consumer} → provider uuid → resource class → amount."""
    result: dict[str, dict[str, int]] = {}
    for provider_uuid, held in (body.get("allocations") or {}).items():
        resources = held.get("resources") or {} if isinstance(held, Mapping) else {}
        result[str(provider_uuid)] = {
            str(k): _int(v) or 0 for k, v in resources.items()
        }
    return result
