"""Cinder / os-brick cannot connect the VM's volumes on the destination (F5)."""

from __future__ import annotations

from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
    DestHostLogs,
    DestStorage,
    InstanceActions,
    MigrationRecords,
    Server,
    Volumes,
    VolumeServices,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    Inconclusive,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_PATTERNS = (
    sig.ISCSIADM_ERROR,
    sig.ISCSI_LOGIN,
    sig.LUN_NOT_FOUND,
    sig.PORTAL_NOT_FOUND,
    sig.DEVICE_NOT_FOUND,
    sig.ATTACHMENT_FAILED,
)
_STUCK = frozenset({"attaching", "reserved", "error_attaching"})


@check(
    id="cinder.volume-connection",
    title="Volume cannot be connected on the destination",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.STORAGE_VOLUME,
    priority=760,
    step=2,
    summary="The volumes of {server_name} could not be connected on {dest_host}: {reason}.",
    remediation=(
        "openstack volume service list --service cinder-volume",
        "openstack --os-volume-api-version 3.27 volume attachment list "
        "--volume-id {volume_id}",
        "On {dest_host}: iscsiadm -m session -P 3; multipath -ll; "
        "systemctl is-active iscsid multipathd",
        "{fix}",
    ),
    references=("https://docs.openstack.org/os-brick/latest/",),
)
def volume_connection(
    server: Server,
    records: MigrationRecords | None,
    volumes: Volumes | None,
    volume_services: VolumeServices | None,
    dest_storage: DestStorage | None,
    actions: InstanceActions | None,
    dest_logs: DestHostLogs | None,
) -> CheckOutcome:
    """During pre_live_migration (or finish_resize) the destination logs in to the
    volume's iSCSI target and os-brick waits for the device; Cinder updates the
    attachment. An iSCSI login error, a missing device, a down cinder-volume or an
    attachment stuck in attaching/reserved stops the move. Two of these agreeing is
    "confirmed".
    """
    move = move_of(records, server)
    texts = gather(actions=actions, dest_logs=dest_logs)
    hit = texts.find(*_PATTERNS)
    down = [
        s.host
        for s in (volume_services.services if volume_services is not None else ())
        if s.binary == "cinder-volume" and s.state != "up"
    ]
    stuck = [
        (v.id, a.status)
        for v in (volumes.volumes if volumes is not None else ())
        for a in v.attachments
        if a.status in _STUCK and a.server_id == server.id
    ]
    has_volumes = bool(server.volume_ids) or bool(volumes and volumes.volumes)
    signs = sum(map(bool, (hit, down and has_volumes, stuck)))
    if not signs:
        if not (texts.available or volumes or volume_services):
            return Inconclusive(reason="no storage evidence and no failure text")
        return RuledOut(reason="no os-brick or Cinder failure and services are up")
    if hit is not None:
        reason = hit.match.group(0).strip()[:200]
    elif down and has_volumes:
        reason = f"cinder-volume is down on {', '.join(down)}"
    else:
        reason = f"volume {stuck[0][0]} attachment is stuck in {stuck[0][1]}"
    if dest_storage is not None and not dest_storage.iscsi_sessions:
        reason += f"; {dest_storage.host} has no iSCSI session"
    if down and has_volumes:
        fix = f"Restore cinder-volume on {down[0]} (openstack volume service list)."
    else:
        fix = (
            "Allow the destination's initiator (cat /etc/iscsi/initiatorname.iscsi) on "
            "the storage array and check TCP 3260 from the destination to the portal."
        )
    volume_id = stuck[0][0] if stuck else next(iter(server.volume_ids), "VOLUME_ID")
    return Concluded(
        facts={
            "server_name": server.name,
            "dest_host": move.dest or "the destination host",
            "reason": reason,
            "volume_id": volume_id,
            "fix": fix,
        },
        cites=cites(hit),
        confidence=Confidence.CONFIRMED if signs > 1 else Confidence.LIKELY,
    )
