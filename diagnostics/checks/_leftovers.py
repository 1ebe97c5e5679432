"""What an earlier failed attempt left behind on the destination (failure-signatures §0.9).

Shared by nova.stale-leftovers (the leftover is why this attempt failed) and
nova.leftovers-on-dest (a leftover that will break the next retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.checks._common import Move
from diagnostics.evidence.types import DestLeftovers, Placement, Ports, Server
from diagnostics.model import Citation


@dataclass(frozen=True, slots=True, kw_only=True)
class Leftover:
    what: str
    cleanup: str
    cite: Citation


def find_leftovers(
    server: Server,
    move: Move,
    leftovers: DestLeftovers | None,
    ports: Ports | None,
    placement: Placement | None,
) -> list[Leftover]:
    """Leftovers on the destination, each with the command that clears it."""
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
                    cleanup=f"On {dest}: virsh undefine {domain} (after checking it is "
                    "not running: virsh -r list --all)",
                    cite=Citation(source=leftovers.provenance, text=f"domain {domain}"),
                )
            )
        if leftovers.instance_dir_exists:
            found.append(
                Leftover(
                    what=f"instance directory {leftovers.instance_dir} exists on {dest}",
                    cleanup=f"On {dest}: mv {leftovers.instance_dir} "
                    f"{leftovers.instance_dir}.stale",
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
                        cleanup=f"Delete the stale binding (Neutron API, no CLI command): "
                        f"DELETE /v2.0/ports/{port.id}/bindings/{dest}",
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
                    cleanup=f"openstack resource provider allocation delete {record.uuid}",
                    cite=Citation(
                        source=placement.provenance, text=f"consumer {record.uuid}"
                    ),
                )
            )
    return found
