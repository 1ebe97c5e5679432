"""What each kind of evidence is called to an operator: "source host logs on cmp-a-01",
never the internal type name ("SourceHostLogs"), in every "could not check" line."""

from __future__ import annotations

import re

from diagnostics.evidence import types as ev

# {source}: the move's source; {dest}: the host probed as the destination (the
# --target-host when given); {failed_dest}: where the move went (its logs are read there)
_NAMES: dict[type[ev.Evidence], str] = {
    ev.Server: "the VM's details in Nova",
    ev.MigrationRecords: "the VM's migration records",
    ev.Ports: "the VM's Neutron ports and their bindings",
    ev.Volumes: "the VM's Cinder volumes",
    ev.ComputeServices: "Nova's compute services",
    ev.VolumeServices: "Cinder's volume services",
    ev.NetworkAgents: "Neutron's network agents",
    ev.InstanceActions: "the VM's instance actions and events",
    ev.ManagementPlane: "the management-plane pods and logs",
    ev.Hypervisors: "Nova's hypervisors",
    ev.Placement: "Placement's resource providers and allocations",
    ev.SourceCpu: "the CPU of {source}",
    ev.DestCpu: "the CPU of {dest}",
    ev.DestDisk: "the free disk of {dest}",
    ev.Aggregates: "the host aggregates",
    ev.AvailabilityZones: "the availability zones",
    ev.SourceHostServices: "the services on {source}",
    ev.DestHostServices: "the services on {dest}",
    ev.LibvirtTlsProbe: "the libvirt TLS connection {source} → {dest}",
    ev.ColdMigrationSshProbe: "SSH {source} → {dest}",
    ev.DestStorage: "the iSCSI sessions and multipath on {dest}",
    ev.DestLeftovers: "what earlier attempts left on {dest}",
    ev.StorageNodes: "the storage nodes of the VM's volumes",
    ev.SourceHostLogs: "source host logs on {source}",
    ev.DestHostLogs: "destination host logs on {failed_dest}",
    ev.StorageNodeLogs: "the cinder-volume logs on the storage nodes",
}


def evidence_name(
    kind: type[ev.Evidence],
    *,
    source: str | None,
    dest: str | None,
    failed_dest: str | None = None,
) -> str:
    """The operator's name for ``kind`` on these hosts ("source host logs on cmp-a-01")."""
    template = _NAMES.get(kind, kind.__name__)
    return template.format(
        source=source or "the source host",
        dest=dest or "the destination host",
        failed_dest=failed_dest or dest or "the destination host",
    )


# as the engine writes a missing requirement: "SourceHostLogs (why)"
_TYPE_NAME = re.compile(r"\b(" + "|".join(k.__name__ for k in _NAMES) + r") (?=\()")


def in_operator_words(
    text: str, *, source: str | None, dest: str | None, failed_dest: str | None = None
) -> str:
    """``text`` (a check's "needs SourceHostLogs (…)") with evidence named as above."""
    by_name = {k.__name__: k for k in _NAMES}
    return _TYPE_NAME.sub(
        lambda m: (
            evidence_name(
                by_name[m.group(1)], source=source, dest=dest, failed_dest=failed_dest
            )
            + " "
        ),
        text,
    )
