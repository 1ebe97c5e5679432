"""What an earlier failed attempt left behind on the destination (failure-signatures §0.9).

Shared by nova.stale-leftovers (the leftover is why this attempt failed) and
nova.leftovers-on-dest (a leftover that will break the next retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics import remedies as r
from diagnostics.checks._common import Move
from diagnostics.evidence.types import DestLeftovers, Placement, Ports, Server
from diagnostics.model import Citation
from diagnostics.remedies import RemedyTemplate

# Neutron has a DELETE for one port binding but the openstack CLI has no command for it
_DELETE_BINDING = (
    "python3 -c 'import openstack, sys; openstack.connect().network.delete_port_binding("
    "sys.argv[1], sys.argv[2], ignore_missing=False)' {leftover_port_id} {binding_host}"
)
LEFTOVER_REMEDIES: tuple[RemedyTemplate, ...] = (
    r.check(r.host("{source_host}"), "virsh -r domstate {active_domain}",
            "The guest must be running on the source before you touch the copy on the "
            "destination.", when="active_domain"),
    r.check(r.host("{dest_host}"), "virsh -r domstate {active_domain}",
            "The stale copy on {dest_host}; stop here if the source does not run the guest.",
            when="active_domain"),
    r.fix(r.host("{dest_host}"), "virsh destroy {active_domain}",
          "Stops the stale copy of the guest on {dest_host}.", when="active_domain"),
    r.fix(r.host("{dest_host}"), "virsh undefine {active_domain}",
          "Removes the stale domain definition so the next attempt can define it.",
          when="active_domain"),
    r.check(r.host("{dest_host}"), "virsh -r domstate {leftover_domain}",
            "Must say shut off: never undefine a running domain.", when="leftover_domain"),
    r.fix(r.host("{dest_host}"), "virsh undefine {leftover_domain}",
          "Removes the domain definition the failed attempt left on {dest_host}.",
          when="leftover_domain"),
    r.check(r.host("{dest_host}"), "ls -la {leftover_instance_dir}",
            "The instance directory the failed attempt left; the VM does not run on "
            "{dest_host}.", when="leftover_instance_dir"),
    r.fix(r.host("{dest_host}"), "mv {leftover_instance_dir} {leftover_instance_dir}.stale",
          "Moves it aside (not deleted) so Nova can create the disk again.",
          when="leftover_instance_dir"),
    r.check(r.CLI, "openstack port show {leftover_port_id} -c binding_host_id -c status",
            "The port's active binding must be on the VM's host, not on {binding_host}.",
            when="leftover_port_id"),
    r.fix(r.CLI, _DELETE_BINDING,
          "Deletes the inactive binding Neutron keeps for {binding_host} (clouds.yaml "
          "credentials, as the openstack CLI).", when="leftover_port_id"),
    r.check(r.CLI,
            "openstack resource provider allocation show {leftover_migration_uuid}",
            "What the failed migration still holds in Placement.",
            when="leftover_migration_uuid"),
    r.fix(r.CLI,
          "openstack resource provider allocation delete {leftover_migration_uuid}",
          "Frees the capacity the failed migration still holds.",
          when="leftover_migration_uuid"),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Leftover:
    """One leftover; ``facts`` select and fill its steps of LEFTOVER_REMEDIES."""

    what: str
    facts: dict[str, str]
    cite: Citation


def leftover_facts(found: list[Leftover]) -> dict[str, str]:
    """The facts of every leftover (the first of a kind wins)."""
    merged: dict[str, str] = {}
    for item in found:
        merged = item.facts | merged
    return merged


def find_leftovers(
    server: Server,
    move: Move,
    leftovers: DestLeftovers | None,
    ports: Ports | None,
    placement: Placement | None,
) -> list[Leftover]:
    """Leftovers on the destination, each with the facts of the steps that clear it."""
    found: list[Leftover] = []
    dest = leftovers.host if leftovers is not None else move.dest
    if dest is None or dest == server.host:  # the VM runs there: nothing is left over
        return found
    if leftovers is not None:
        domain = server.instance_name or server.id
        if leftovers.domain_defined:
            found.append(
                Leftover(
                    what=f"libvirt domain {domain} is still defined on {dest}",
                    facts={"leftover_domain": domain},
                    cite=Citation(source=leftovers.provenance, text=f"domain {domain}"),
                )
            )
        if leftovers.instance_dir_exists:
            found.append(
                Leftover(
                    what=f"instance directory {leftovers.instance_dir} exists on {dest}",
                    facts={"leftover_instance_dir": leftovers.instance_dir},
                    cite=Citation(
                        source=leftovers.provenance, text=leftovers.instance_dir
                    ),
                )
            )
    for port in ports.ports if ports is not None else ():
        for binding in port.bindings:
            if binding.host == dest and binding.status == "INACTIVE":
                found.append(
                    Leftover(
                        what=f"port {port.id} has an INACTIVE binding on {dest}",
                        # stale_binding_*: seen in Neutron now (the fix button's
                        # evidence), unlike a port the failure text merely names
                        facts={
                            "leftover_port_id": port.id,
                            "binding_host": dest,
                            "stale_binding_port_id": port.id,
                            "stale_binding_host": dest,
                        },
                        cite=Citation(
                            source=ports.provenance if ports else "ports",
                            text=f"{port.id} binding host={dest} status=INACTIVE",
                        ),
                    )
                )
    record = move.record
    if placement is not None and record is not None and record.uuid:
        held = placement.allocations.get(record.uuid)
        if held and move.failed:
            found.append(
                Leftover(
                    what=f"failed migration {record.uuid} still holds a Placement allocation",
                    facts={"leftover_migration_uuid": record.uuid},
                    cite=Citation(
                        source=placement.provenance, text=f"consumer {record.uuid}"
                    ),
                )
            )
    return found
