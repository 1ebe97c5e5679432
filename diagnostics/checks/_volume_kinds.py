"""Ceph RBD and NFS volume failures: the reason and the fix each signature names.

RBD volumes are opened by libvirt/qemu with librbd on the destination (Nova's network
volume driver): a missing libvirt secret for the cephx key, a refused key, unreachable
monitors or a busy image. NFS volumes are mounted by Nova on the destination (`mount -t
nfs`): the server refuses the export, cannot be reached, or the handle went stale.
"""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import Hit, Texts
from diagnostics.remedies import RemedyTemplate

RBD = (sig.RBD_SECRET_MISSING, sig.RBD_CONNECT, sig.CEPH_CLUSTER, sig.RBD_BUSY)
NFS = (sig.NFS_REFUSED, sig.NFS_STALE, sig.NFS_MOUNT)
KINDS = RBD + NFS

_DST = r.host("{dest_host}")
FIXES: tuple[RemedyTemplate, ...] = (
    r.check(_DST, "virsh secret-list",
            "The libvirt secrets on the destination: Nova's rbd_secret_uuid must be one.",
            when="vol_fix=rbd-secret"),
    r.instruct(_DST, "Define the secret {secret_uuid} on the destination as it is on the "
               "source (virsh secret-define with that UUID, then virsh secret-set-value "
               "with the Ceph client key), then retry the migration.",
               when="vol_fix=rbd-secret"),
    r.check(_DST, "virsh secret-list",
            "The secret libvirt hands qemu for the Ceph client key on the destination.",
            when="vol_fix=cephx"),
    r.instruct(_DST, "Set that secret's value to the Ceph user's current key (ceph auth "
               "get-key on a Ceph admin node) and check the user's caps allow the "
               "volumes pool, then retry the migration.", when="vol_fix=cephx"),
    r.instruct(_DST, "The destination must reach the Ceph monitors (TCP 3300 and 6789) "
               "named in the ceph.conf Nova uses; restore that, then retry the migration.",
               when="vol_fix=ceph-reach"),
    r.instruct(_DST, "Another client still holds the RBD image open (often one that "
               "crashed): find its watcher with rbd status on a Ceph admin node, wait "
               "until it is gone, then retry the migration.", when="vol_fix=rbd-busy"),
    r.instruct(_DST, "Allow the destination's address in the NFS server's exports of "
               "{nfs_export}, then retry the migration.", when="vol_fix=nfs-export"),
    r.instruct(_DST, "The destination must reach the NFS server of {nfs_export} (NFS "
               "port 2049 and, for NFS v3, rpcbind 111); restore that, then retry the "
               "migration.", when="vol_fix=nfs-reach"),
    r.instruct(_DST, "Mount {nfs_export} by hand on the destination to read mount.nfs's "
               "reason (Nova's record of it was cut off), fix that, then retry the "
               "migration.", when="vol_fix=nfs-mount"),
    r.instruct(_DST, "The share's file handle is stale (its server restarted or exported "
               "it again): unmount it on the destination with umount -f once no guest "
               "uses it, then retry the migration (Nova mounts it again).",
               when="vol_fix=nfs-stale"),
)  # fmt: skip
# after every fix: what to look at on the destination
CHECKS: tuple[RemedyTemplate, ...] = (
    r.check(_DST, "grep -F nfs /proc/mounts",
            "The NFS shares mounted on the destination now.", when="vol_kind=nfs"),
)  # fmt: skip


def find(texts: Texts, wider: Texts) -> Hit | None:
    """An RBD or NFS failure: in the events or the destination's log, or for RBD also in
    the source's ("Live Migration failure: ..."), where libvirt reports the
    destination's refusal."""
    return texts.find(*KINDS) or wider.find(*RBD)


def facts_of(hit: Hit, texts: Texts, dest: str) -> dict[str, str]:
    """``reason``, ``vol_kind`` and ``vol_fix`` (and what the fix names) for the hit."""
    p = hit.match.re
    if p is sig.RBD_SECRET_MISSING:
        uuid = hit.get("uuid")
        return {"vol_kind": "rbd", "vol_fix": "rbd-secret", "secret_uuid": uuid,
                "reason": f"libvirt on {dest} has no secret {uuid} for the Ceph client "
                "key (Nova's rbd_secret_uuid)"}  # fmt: skip
    if p is sig.RBD_CONNECT:
        why = hit.get("why")
        denied = why == "Permission denied"
        what = (
            "cephx refused the client key (the secret's key or the Ceph user's caps)"
            if denied
            else "the Ceph monitors or the image could not be reached"
        )
        return {"vol_kind": "rbd", "vol_fix": "cephx" if denied else "ceph-reach",
                "reason": f"qemu could not open the RBD volume (error connecting: "
                f"{why}): {what}"}  # fmt: skip
    if p is sig.CEPH_CLUSTER:
        return {"vol_kind": "rbd", "vol_fix": "ceph-reach",
                "reason": "the Ceph cluster could not be reached (rados connect failed)"}  # fmt: skip
    if p is sig.RBD_BUSY:
        return {"vol_kind": "rbd", "vol_fix": "rbd-busy",
                "reason": "the RBD image is busy: another client still has it open"}  # fmt: skip
    mount = texts.find(sig.NFS_MOUNT)
    export = (mount.get("export") or mount.get("share")) if mount is not None else ""
    share = export or "the NFS share"
    if p is sig.NFS_STALE:
        return {"vol_kind": "nfs", "vol_fix": "nfs-stale", "nfs_export": share,
                "reason": f"the file handle of {share} on {dest} is stale (Stale file "
                "handle)"}  # fmt: skip
    if p is sig.NFS_REFUSED:
        why = hit.get("why")
        refused = why.startswith(("access denied", "mounting"))
        return {"vol_kind": "nfs", "vol_fix": "nfs-export" if refused else "nfs-reach",
                "nfs_export": share,
                "reason": f"{dest} could not mount {share}: mount.nfs: {why}"}  # fmt: skip
    return {"vol_kind": "nfs", "vol_fix": "nfs-mount", "nfs_export": share,
            "reason": f"{dest} could not mount {share} (mount.nfs's reason was cut off "
            "by Nova's 255-byte limit)"}  # fmt: skip
