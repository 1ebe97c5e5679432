"""Cinder / os-brick cannot connect the VM's volumes on the destination (F5)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks import _volume_kinds
from diagnostics.checks._common import Hit, cites, gather, move_of, on_host
from diagnostics.checks._storage import (
    DownBackend,
    NodeHit,
    backend_hits,
    backends_of,
    down_backends,
    storage_caveats,
    unread_where,
)
from diagnostics.evidence.types import (
    DestHostLogs,
    DestStorage,
    InstanceActions,
    MigrationRecords,
    Server,
    SourceHostLogs,
    StorageNodeLogs,
    StorageNodes,
    Volumes,
    VolumeServices,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

# os-brick on the destination first (specific), then what Cinder answered Nova
_PATTERNS = (
    sig.ISCSIADM_ERROR,
    sig.ISCSI_LOGIN,
    sig.LUN_NOT_FOUND,
    sig.PORTAL_NOT_FOUND,
    sig.DEVICE_NOT_FOUND,
    sig.CINDER_BACKEND,
    sig.ATTACHMENT_FAILED,
)
# Cinder refused or failed the attachment: the cause is on the cinder-volume side
_CINDER_SIDE = (sig.CINDER_BACKEND, sig.ATTACHMENT_FAILED)
_STUCK = frozenset({"attaching", "reserved", "error_attaching"})
_REASON_MAX = 600
_NODE = r.host("{storage_host}")
_PCD_LOG = (
    "/var/log/pf9/cindervolume-base.log"  # PCD Block Storage role's cinder-volume
)
_NO_TARGET = "Could not find target"  # cinder-rtstool: the volume's LIO target is gone


def _clip(reason: str) -> str:
    """The reason as the summary template wants it: bounded, no closing period."""
    return reason[:_REASON_MAX].rstrip(". ")


def _cause(hit: Hit) -> str:
    """The backend's own reason from a CINDER_BACKEND match, else the whole match."""
    groups = hit.match.groupdict()
    named = next((v for v in groups.values() if v), None)
    text = hit.match.group(0) if named is None or groups.get("iqn") else named
    return text.strip()[:300].rstrip(". ")


@check(
    id="cinder.volume-connection",
    title="Volume cannot be connected on the destination",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.STORAGE_VOLUME,
    priority=760,
    step=2,
    summary="The volumes of {server_name} could not be connected on {dest_host}: {reason}.",
    remediation=(
        r.check(
            _NODE,
            "journalctl -u pf9-cindervolume-base -n 100 --no-pager",
            "Why cinder-volume stopped on the storage node, before a restart hides it.",
            when="vol_fix=service",
        ),
        r.fix(
            _NODE,
            "systemctl restart pf9-cindervolume-base",
            "Cinder attaches the volume only while its backend's cinder-volume runs.",
            when="vol_fix=service",
        ),
        r.check(
            _NODE,
            "journalctl -u pf9-cindervolume-base -n 100 --no-pager",
            "What cinder-volume logged since it started, before a restart hides it.",
            when="vol_fix=lio-target",
        ),
        r.fix(
            _NODE,
            "systemctl restart pf9-cindervolume-base",
            "The volume's LIO target is gone; cinder-volume's start-up ensure_export "
            "restores the targets from the saved configuration.",
            when="vol_fix=lio-target",
        ),
        r.check(
            _NODE,
            "grep -F {volume_id} {storage_log_path}",
            "cinder-volume's own error for the volume: what the backend refused.",
            when="vol_fix=backend",
        ),
        r.instruct(
            _NODE,
            "Fix what that error names in the backend's export of the volume, "
            "then retry the migration.",
            when="vol_fix=backend",
        ),
        r.instruct(
            r.host("{dest_host}"),
            "Allow the destination's initiator (shown by the check below) on the "
            "storage array, then retry the migration.",
            when="vol_fix=initiator",
        ),
        *_volume_kinds.FIXES,
        r.check(
            r.CLI,
            "openstack volume service list --service cinder-volume",
            "Every cinder-volume must be enabled and up.",
        ),
        r.check(
            r.CLI,
            "openstack volume show {volume_id} -c status -c os-vol-host-attr:host",
            "The volume's state and the storage node (host@backend) that serves it.",
            when="volume_id",
        ),
        r.check(
            r.CLI,
            "openstack --os-volume-api-version 3.27 volume attachment list "
            "--volume-id {volume_id}",
            "Attachments stuck in attaching or reserved block the move.",
            when="volume_id",
        ),
        r.check(
            r.host("{dest_host}"),
            "cat /etc/iscsi/initiatorname.iscsi",
            "The initiator name the storage array must allow for this host.",
            when="!vol_kind",
        ),
        r.check(
            r.host("{dest_host}"),
            "iscsiadm -m session -P 3",
            "The destination's iSCSI sessions and the devices they give.",
            when="!vol_kind",
        ),
        r.check(
            r.host("{dest_host}"),
            "multipath -ll",
            "The multipath devices built on those sessions.",
            when="!vol_kind",
        ),
        r.check(
            r.host("{dest_host}"),
            "systemctl is-active iscsid multipathd",
            "Both daemons must be active on the destination.",
            when="!vol_kind",
        ),
        *_volume_kinds.CHECKS,
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
    storage_nodes: StorageNodes | None = None,
    storage_logs: StorageNodeLogs | None = None,
    source_logs: SourceHostLogs | None = None,
) -> CheckOutcome:
    """During pre_live_migration (or finish_resize) the destination asks Cinder to update
    the volume's attachment with its connector; cinder-volume on the storage node exports
    the volume and adds the destination's initiator to the target, then the destination
    logs in and os-brick waits for the device. An iSCSI login error, a missing device, a
    backend error in the storage node's cinder-volume log, a down cinder-volume for the
    volume's backend or an attachment stuck in attaching/reserved stops the move.

    A down cinder-volume explains Cinder's generic "Unable to update the attachment":
    then it is the cause, the attachment failure its consequence. A backend error logged
    by cinder-volume for this request proves the service ran, so the error is the cause.
    Two independent sources agreeing (Nova's failure text, the storage node's log, the
    service state, the attachment state) is "confirmed"; what could not be looked at is
    named, never taken as healthy.
    """
    move = move_of(records, server)
    if move.retargeted:
        # --target-host: the failure (its texts, its destination's logs) is the move's
        # own destination's; the target's iSCSI sessions say nothing about it
        dest_storage = None
        dest_logs = on_host(dest_logs, move.failed_at)
    dest = move.failed_at or "the destination host"
    texts = gather(actions=actions, dest_logs=dest_logs)
    hit = texts.find(*_PATTERNS)
    # a Ceph RBD or NFS volume names its own failure; Cinder's generic answer does not
    kind_hit = _volume_kinds.find(texts, gather(source_logs=source_logs))
    if kind_hit is not None and (hit is None or hit.match.re in _CINDER_SIDE):
        hit = kind_hit
    cinder_side = hit is not None and hit.match.re in _CINDER_SIDE
    mine = backends_of(server, volumes, storage_nodes)
    down = down_backends(mine, volume_services, storage_nodes)
    node_hits = backend_hits(storage_logs)
    stuck = [
        (v.id, a.status)
        for v in (volumes.volumes if volumes is not None else ())
        for a in v.attachments
        if a.status in _STUCK and a.server_id == server.id
    ]
    has_volumes = bool(server.volume_ids) or bool(volumes and volumes.volumes)
    if not has_volumes:
        down = []  # a down cinder-volume cannot hold up a VM without volumes
    if not (hit or node_hits or down or stuck):
        if not (texts.available or volumes or volume_services or storage_logs):
            return Inconclusive(reason="no storage evidence and no failure text")
        if not has_volumes:  # Nova lists no attached volume
            return RuledOut(reason="the VM has no volumes and no os-brick failure")
        # the storage nodes' view carries each backend's volumes and its service
        seen = {
            "volumes": volumes is not None or storage_nodes is not None,
            "Cinder services": volume_services is not None or storage_nodes is not None,
        }
        unread = [n for n, ok in seen.items() if not ok]
        if unread:
            return CouldNotCheck(
                why="no os-brick or Cinder failure logged, but the "
                + " and the ".join(unread)
                + " could not be read",
                needs="Cinder read access (admin for services)",
            )
        return RuledOut(reason="no os-brick or Cinder failure and services are up")
    volume_id = stuck[0][0] if stuck else next(iter(server.volume_ids), "")
    facts = {"server_name": server.name, "dest_host": dest, "volume_id": volume_id}
    if node_hits:
        return _backend_error(facts, node_hits, hit, bool(stuck))
    if hit is not None and hit.match.re in _volume_kinds.KINDS:
        return Concluded(
            facts=facts | _volume_kinds.facts_of(hit, texts, dest),
            cites=cites(hit),
            confidence=Confidence.CONFIRMED if stuck else Confidence.LIKELY,
        )
    if down and (cinder_side or stuck or hit is None):
        return _cinder_volume_down(facts, down, hit, bool(stuck), attributed=bool(mine))
    return _connection_error(
        facts,
        hit,
        stuck,
        dest_storage,
        down=down if has_volumes else [],
        caveats=storage_caveats(mine, storage_nodes, storage_logs),
        node=min((b.partition("@")[0] for b in mine), default=None),
        unread_nodes=unread_where(mine),
    )


def _backend_error(
    facts: dict[str, str], node_hits: list[NodeHit], hit: Hit | None, stuck: bool
) -> Concluded:
    """The storage node's cinder-volume log holds the backend's own error."""
    first = node_hits[0]
    detail = "; ".join(dict.fromkeys(h.text for h in node_hits[:3]))
    reason = f"cinder-volume on {first.node} failed for this request: {detail}"
    fix = {
        "vol_fix": "backend",
        "storage_host": first.node,
        "storage_log_path": first.path,
    }
    if any(_NO_TARGET in h.text for h in node_hits):
        # LIO lost its targets (e.g. after a reboot): cinder-volume's start-up
        # ensure_export restores them from the saved configuration
        fix = {"vol_fix": "lio-target", "storage_host": first.node}
    return Concluded(
        facts=facts | {"reason": _clip(reason)} | fix,
        cites=(*(h.line.cite() for h in node_hits[:3]), *cites(hit)),
        # Nova's failure text (or the attachment's state) and the node's log agree
        confidence=Confidence.CONFIRMED if (hit or stuck) else Confidence.LIKELY,
    )


def _cinder_volume_down(
    facts: dict[str, str],
    down: list[DownBackend],
    hit: Hit | None,
    stuck: bool,
    *,
    attributed: bool,
) -> Concluded:
    """cinder-volume of the volume's backend is down: the deeper cause of a failed update."""
    first = down[0]
    reason = first.describe()
    if hit is not None:
        reason += (
            f", so Cinder failed the attachment ({hit.match.group(0).strip()[:160]})"
        )
    rivals: tuple[str, ...] = ()
    if not attributed:
        reason += "; which backend holds the VM's volumes is unknown"
        rivals = ("the down service is another backend's, not the VM's volumes'",)
    if (hit or stuck) and attributed:
        confidence = Confidence.CONFIRMED
    elif hit or stuck:
        confidence = Confidence.LIKELY
    else:  # down, but nothing says this move failed for it
        confidence = Confidence.POSSIBLE
    fix = {"vol_fix": "service", "storage_host": first.node}
    return Concluded(
        facts=facts | {"reason": _clip(reason)} | fix,
        cites=(*(d.cite for d in down[:2]), *cites(hit)),
        confidence=confidence,
        not_ruled_out=rivals,
    )


def _connection_error(
    facts: dict[str, str],
    hit: Hit | None,
    stuck: list[tuple[str, str]],
    dest_storage: DestStorage | None,
    *,
    down: list[DownBackend],
    caveats: list[str],
    node: str | None,
    unread_nodes: str,
) -> Concluded:
    """os-brick on the destination, or Cinder's answer to Nova, without a deeper cause."""
    cinder_side = hit is None or hit.match.re in _CINDER_SIDE
    if hit is not None and hit.match.re is sig.CINDER_BACKEND:
        reason = f"Cinder's backend failed the attachment: {_cause(hit)}"
    elif hit is not None:
        reason = hit.match.group(0).strip()[:200]
    else:
        reason = f"volume {stuck[0][0]} attachment is stuck in {stuck[0][1]}"
    if not cinder_side and dest_storage is not None and not dest_storage.iscsi_sessions:
        reason += f"; {dest_storage.host} has no iSCSI session"
    if down:  # an iSCSI login error means cinder-volume did answer this request
        reason += f"; {down[0].describe()} now"
    unread = [c for c in caveats if "cinder-volume log" in c]
    if cinder_side and unread:  # where the backend's own error would be, said up front
        reason += f"; the cinder-volume log on {unread_nodes} was not read"
    # Cinder's side: read cinder-volume's error on the volume's storage node when it is
    # known (the probe that could not run), else the volume show check names the node;
    # not Cinder's side: the array must allow the destination's initiator
    fix = {"vol_fix": "cinder-side" if cinder_side else "initiator"}
    if cinder_side and node:
        fix = {"vol_fix": "backend", "storage_host": node, "storage_log_path": _PCD_LOG}
    signs = sum(map(bool, (hit, stuck)))
    return Concluded(
        facts=facts | {"reason": _clip(reason)} | fix,
        cites=cites(hit),
        confidence=Confidence.CONFIRMED if signs > 1 else Confidence.LIKELY,
        not_ruled_out=tuple(caveats) if cinder_side else (),
    )
