"""What Placement knows about each compute node, derived from the scenario and state.

Kept apart from the HTTP layer (``sim/api/placement/routes.py``) so the scheduler side of the
simulated Nova can ask the same questions (capacity, candidates) without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.region.state import RegionState, compute_service, stable_uuid
from sim.scenario.model import Host

# The capability traits the libvirt driver reports on every compute node (as recorded in
# shared/reference/nova/live/placement/<host>/traits.json).
NOVA_COMPUTE_TRAITS = (
    "COMPUTE_ACCELERATORS",
    "COMPUTE_ADDRESS_SPACE_EMULATED",
    "COMPUTE_ADDRESS_SPACE_PASSTHROUGH",
    "COMPUTE_DEVICE_TAGGING",
    "COMPUTE_IMAGE_TYPE_RAW",
    "COMPUTE_MEM_BACKING_FILE",
    "COMPUTE_NET_ATTACH_INTERFACE",
    "COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG",
    "COMPUTE_NODE",
    "COMPUTE_SECURITY_STATELESS_FIRMWARE",
    "COMPUTE_STORAGE_VIRTIO_FS",
    "COMPUTE_TRUSTED_CERTS",
    "COMPUTE_VOLUME_ATTACH_WITH_TAG",
    "COMPUTE_VOLUME_EXTEND",
    "COMPUTE_VOLUME_MULTI_ATTACH",
    "OWNER_NOVA",
)
STATUS_DISABLED_TRAIT = "COMPUTE_STATUS_DISABLED"
RESOURCE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
# consumer_type Nova 34 leaves on its consumers (live/placement/allocations/*.json)
CONSUMER_TYPE = "unknown"


def provider_uuid(state: RegionState, host: str) -> str:
    """The compute-node resource provider uuid (also Nova's hypervisor id)."""
    return stable_uuid(state.scenario.name, "rp", host)


def aggregate_uuid(state: RegionState, name: str) -> str:
    """The Placement aggregate uuid Nova mirrors for a host aggregate."""
    return stable_uuid(state.scenario.name, "agg", name)


@dataclass(frozen=True, slots=True)
class Inventory:
    total: int
    reserved: int
    allocation_ratio: float

    @property
    def capacity(self) -> int:
        """Placement's capacity: (total - reserved) * allocation_ratio, truncated."""
        return int((self.total - self.reserved) * self.allocation_ratio)

    def as_dict(self) -> dict[str, Any]:
        return {
            "allocation_ratio": self.allocation_ratio,
            "max_unit": self.total,
            "min_unit": 1,
            "reserved": self.reserved,
            "step_size": 1,
            "total": self.total,
        }


def inventories(host: Host) -> dict[str, Inventory]:
    """VCPU / MEMORY_MB / DISK_GB inventories of the host's compute node."""
    res = host.resources
    return {
        "DISK_GB": Inventory(
            res.disk_gb, res.reserved_disk_gb, res.disk_allocation_ratio
        ),
        "MEMORY_MB": Inventory(
            res.memory_mb, res.reserved_memory_mb, res.ram_allocation_ratio
        ),
        "VCPU": Inventory(res.vcpus, 0, res.cpu_allocation_ratio),
    }


def consumers_on(state: RegionState, rp_uuid: str) -> dict[str, dict[str, int]]:
    """consumer uuid -> resources it holds on this provider."""
    return {
        consumer: dict(per_rp[rp_uuid])
        for consumer, per_rp in state.allocations.items()
        if per_rp.get(rp_uuid)
    }


def usages(state: RegionState, host_name: str) -> dict[str, int]:
    """Scenario baseline usage (``used_*``) plus every allocation on the provider."""
    res = state.scenario.hosts[host_name].resources
    used = {
        "DISK_GB": res.used_disk_gb,
        "MEMORY_MB": res.used_memory_mb,
        "VCPU": res.used_vcpus,
    }
    for resources in consumers_on(state, provider_uuid(state, host_name)).values():
        for rc, amount in resources.items():
            used[rc] = used.get(rc, 0) + amount
    return used


def generation(state: RegionState, host_name: str) -> int:
    """A provider generation that moves whenever allocations on it change."""
    return 2 + len(consumers_on(state, provider_uuid(state, host_name)))


def traits(state: RegionState, host_name: str) -> list[str]:
    """CPU traits, extra traits, Nova's capability traits, and the disabled marker.

    Nova's compute_status_filter adds COMPUTE_STATUS_DISABLED while the service is
    disabled.
    """
    host = state.scenario.hosts[host_name]
    found = (
        set(NOVA_COMPUTE_TRAITS)
        | set(host.cpu.traits)
        | set(host.resources.extra_traits)
    )
    if compute_service(state, host_name).status == "disabled":
        found.add(STATUS_DISABLED_TRAIT)
    return sorted(found)


def aggregates(state: RegionState, host_name: str) -> list[str]:
    """Placement aggregates of the host: one per Nova host aggregate it belongs to."""
    return sorted(
        aggregate_uuid(state, agg.name)
        for agg in state.scenario.aggregates
        if host_name in agg.hosts
    )


def host_by_provider(state: RegionState, rp_uuid: str) -> str | None:
    """The host name whose compute node has this provider uuid."""
    for name in state.scenario.hosts:
        if provider_uuid(state, name) == rp_uuid:
            return name
    return None


def consumer_owner(state: RegionState, consumer: str) -> tuple[str, str]:
    """(project_id, user_id) of an instance or migration consumer."""
    server = state.servers.get(consumer)
    if server is not None:
        return str(server["project_id"]), str(server["user_id"])
    for migration in state.migrations:
        if migration.uuid == consumer:
            return migration.project_id, migration.user_id
    return "", ""


def fits(state: RegionState, host_name: str, wanted: dict[str, int]) -> bool:
    """Whether the provider has every requested class with room for the amount."""
    inv = inventories(state.scenario.hosts[host_name])
    used = usages(state, host_name)
    for rc, amount in wanted.items():
        have = inv.get(rc)
        if have is None or amount > have.total:  # max_unit == total
            return False
        if used.get(rc, 0) + amount > have.capacity:
            return False
    return True


def trait_match(have: set[str], required: list[str]) -> bool:
    """``required`` items: ``T`` must be present, ``!T`` absent, ``in:A,B`` any of."""
    for item in required:
        if item.startswith("in:"):
            if not have & set(item[3:].split(",")):
                return False
        elif item.startswith("!"):
            if item[1:] in have:
                return False
        elif item not in have:
            return False
    return True


def member_match(have: set[str], member_of: list[str]) -> bool:
    """Each ``member_of`` value must hold (AND): ``in:a,b`` any of, ``!x`` none of."""
    for value in member_of:
        forbidden = value.startswith("!")
        value = value.removeprefix("!")
        wanted = set(value.removeprefix("in:").split(","))
        if bool(have & wanted) == forbidden:
            return False
    return True
