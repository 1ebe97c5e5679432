"""cinder.volume-connection: the VM's volumes cannot be connected on the destination.

Rival explanations of an attachment failure: a down cinder-volume for the volume's
backend (the deeper cause), a backend error in the storage node's cinder-volume log (the
cause, proven by the node having logged it), and an iSCSI login on the destination.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from diagnostics.checks.volume_connection import volume_connection
from diagnostics.evidence.log_lines import parse_log_line
from diagnostics.evidence.types import StorageNode, StorageNodeLogs, StorageNodes
from diagnostics.model import Concluded, Confidence, Inconclusive
from diagnostics.signatures import safe_truncate
from tests.checks.conftest import (
    DST,
    REQ,
    VOL_ID,
    actions,
    dest_logs,
    dest_storage,
    event,
    records,
    rendered,
    server,
    src_logs,
    svc,
    volume_services,
    volumes,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "cinder.volume-connection"
WITH_VOLUME = server(volume_ids=(VOL_ID,))
NODE, BACKEND = "storage-01", "storage-01@lvm"
LOG = "/var/log/pf9/cindervolume-base.log"
ISCSI = (
    "Failed to login iSCSI target iqn.2010-10.org.openstack:volume-x on portal "
    "10.0.0.50:3260 (exit code 24)."
)
UPDATE_FAILED = (
    f"Update attachment failed for attachment {VOL_ID}. Error: Unable to update the "
    "attachment. (HTTP 500) Code: 500"
)
BACKEND_ERROR = (
    f"2026-11-25 18:55:10.812 2471 ERROR cinder.volume.targets.lio [{REQ} req-c - - -] "
    "Failed to add initiator iqn iqn.1994-05.com.redhat:ab12 to target"
)


def nodes(state: str = "up", units: dict[str, str] | None = None, **kw) -> StorageNodes:
    node = StorageNode(
        backend=BACKEND, node=NODE, volume_ids=(VOL_ID,),
        service=svc(BACKEND, binary="cinder-volume", state=state),
        units=units if units is not None else {"pf9-cindervolume-base": "active"}, **kw,
    )  # fmt: skip
    return StorageNodes(
        provenance=f"GET /volumes/{VOL_ID}; GET /os-services; {NODE}$ systemctl is-active",
        nodes=(node,),
    )


def node_logs(*texts: str, unchecked: dict[str, str] | None = None) -> StorageNodeLogs:
    lines = tuple(
        parse_log_line(f"{NODE}:{LOG}:{40 + i}", t) for i, t in enumerate(texts)
    )
    return StorageNodeLogs(provenance=f"{NODE}$ grep", lines=lines, nodes=(NODE,),
                           unchecked=unchecked or {})  # fmt: skip


def run(**kw):
    base = {"server": WITH_VOLUME, "records": records(), "volumes": None, "volume_services": None,
            "dest_storage": None, "actions": None, "dest_logs": None, "storage_nodes": None,
            "storage_logs": None}  # fmt: skip
    return outcome_of(volume_connection, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_storage_node_log_and_novas_failure_confirm_the_backend_error():
    """The cinder-volume line on the storage node plus Nova's failed update: confirmed."""
    outcome = run(
        actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
        storage_nodes=nodes(),
        storage_logs=node_logs(BACKEND_ERROR),
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert (
        "cinder-volume on storage-01 failed for this request" in outcome.facts["reason"]
    )
    assert "Failed to add initiator iqn iqn.1994-05.com.redhat:ab12" in text
    assert outcome.cites[0].source == f"{NODE}:{LOG}:40"
    assert outcome.cites[0].text == BACKEND_ERROR
    assert "fix on host storage-01: Fix what that error names" in text
    assert f"grep -F {VOL_ID} {LOG}" in text


@pytest.mark.outcome(ID, "concluded")
def test_storage_node_log_alone_is_likely():
    """Only the storage node's log, nothing from Nova: one source, likely."""
    outcome = run(storage_nodes=nodes(), storage_logs=node_logs(BACKEND_ERROR))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "concluded")
def test_down_cinder_volume_of_the_backend_explains_the_failed_update():
    """The volume's cinder-volume down + Cinder's 500: down is the cause, confirmed."""
    outcome = run(
        actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
        storage_nodes=nodes("down"),
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["reason"].startswith(
        "cinder-volume for storage-01@lvm is down"
    )
    assert "so Cinder failed the attachment" in outcome.facts["reason"]
    assert "fix on host storage-01: Cinder attaches" in text
    assert "systemctl restart pf9-cindervolume-base" in text
    assert outcome.cites[0].text.startswith("cinder-volume storage-01@lvm: state down")


@pytest.mark.outcome(ID, "concluded")
def test_stopped_unit_on_the_node_counts_as_down():
    """Cinder still says up, but the unit on the node is failed: the same deeper cause."""
    outcome = run(
        actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
        storage_nodes=nodes("up", {"pf9-cindervolume-base": "failed"}),
    )
    assert_concludes(outcome)
    assert "pf9-cindervolume-base failed" in outcome.facts["reason"]
    assert outcome.confidence is Confidence.CONFIRMED


@pytest.mark.outcome(ID, "concluded")
def test_down_service_of_another_backend_is_not_this_vms_cause():
    """A down cinder-volume elsewhere does not explain this VM's failure."""
    other = volume_services("down")  # cinder-lvm@lvm, not the VM's storage-01@lvm
    outcome = run(
        actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
        storage_nodes=nodes(),
        volume_services=other,
    )
    assert_concludes(outcome)
    assert "down" not in outcome.facts["reason"]
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "concluded")
def test_down_with_unknown_backends_is_not_confirmed():
    """Which backend holds the volume is unknown: a down service is only likely."""
    outcome = run(
        actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
        volume_services=volume_services("down"),
    )
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert "which backend holds the VM's volumes is unknown" in outcome.facts["reason"]


@pytest.mark.outcome(ID, "concluded")
def test_down_alone_is_circumstantial():
    """cinder-volume down, but nothing says the move failed for it: possible."""
    outcome = run(storage_nodes=nodes("down"), actions=actions())
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE


@pytest.mark.outcome(ID, "concluded")
def test_iscsi_login_error_is_not_blamed_on_a_down_service():
    """os-brick logged in (so cinder-volume answered): the login error is the cause."""
    outcome = run(dest_logs=dest_logs(ISCSI), storage_nodes=nodes("down"),
                  dest_storage=dest_storage())  # fmt: skip
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.facts["reason"].startswith("Failed to login iSCSI target")
    assert "is down (" in outcome.facts["reason"]
    assert "has no iSCSI session" in outcome.facts["reason"]
    assert "initiatorname.iscsi" in text
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "concluded")
def test_unread_storage_log_is_named_and_not_confirmed():
    """Cinder's generic 500 with the storage node's log unread: likely, and says so."""
    why = "could not check: storage-01: SSH connection refused; needs SSH as pf9-diag"
    for logs, expected in (
        (None, "the log was not read"),
        (node_logs(unchecked={NODE: why}), why),
    ):
        outcome = run(
            actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
            storage_nodes=nodes(),
            storage_logs=logs,
        )
        assert_concludes(outcome)
        assert outcome.confidence is Confidence.LIKELY
        assert (
            "the cinder-volume log on storage-01 was not read"
            in outcome.facts["reason"]
        )
        (rival,) = outcome.not_ruled_out
        assert rival.startswith(
            "a backend error in the cinder-volume log on storage-01 ("
        )
        assert rival.endswith(f"{expected})")


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_os_brick_log_and_stuck_attachment():
    """os-brick's device error plus an attachment stuck attaching is confirmed."""
    acts = actions(event("compute_pre_live_migration", "Volume device not found at ."))
    outcome = run(
        actions=acts, volumes=volumes("attaching"), dest_storage=dest_storage()
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert "has no iSCSI session" in outcome.facts["reason"]
    assert f"--volume-id {VOL_ID}" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"dest_logs": dest_logs(ISCSI)}, id="iscsi-login-failure"),
        pytest.param({"volumes": volumes("attaching")}, id="attachment-stuck"),
        pytest.param(
            {"actions": actions(event("compute_pre_live_migration", UPDATE_FAILED))},
            id="cinder-500",
        ),
    ],
)
def test_likely_from_one_source(kw):
    """Any one storage signal concludes as likely."""
    outcome = run(**kw)
    rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"volumes": volumes(), "volume_services": volume_services()},
                     id="healthy-storage"),
        pytest.param({"storage_nodes": nodes(), "storage_logs": node_logs("attach ok")},
                     id="healthy-storage-node"),
        pytest.param({"server": server(), "volume_services": volume_services("down")},
                     id="no-volumes-so-cinder-irrelevant"),
    ],
)  # fmt: skip
def test_ruled_out(kw):
    """Healthy storage, or a VM without volumes, rules it out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_storage_evidence():
    """No volumes, services, logs or events is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "concluded")
def test_missing_lio_target_says_to_restore_the_targets():
    """cinder-rtstool's "Could not find target": restart cinder-volume to restore them."""
    rtstool = (
        f"2026-11-25 18:55:10.812 2471 ERROR cinder.volume.targets.lio [{REQ} req-c - - -] "
        "Stderr: 'cinder.cmd.rtstool.RtstoolError: Could not find target "
        f"iqn.2010-10.org.openstack:volume-{VOL_ID}\\n'"
    )
    outcome = run(storage_nodes=nodes(), storage_logs=node_logs(BACKEND_ERROR, rtstool))
    text = rendered(ID, outcome)
    assert "RtstoolError: Could not find target" in outcome.facts["reason"]
    assert "\\n" not in outcome.facts["reason"]
    assert "systemctl restart pf9-cindervolume-base" in text
    assert "journalctl -u pf9-cindervolume-base" in text


@pytest.mark.outcome(ID, "concluded")
def test_with_another_target_the_volume_failure_stays_on_its_destination():
    """--target-host H: the iSCSI login failure in D's log is about D, and H's (empty)
    iSCSI sessions are not cited or said to be D's."""
    h_storage = replace(dest_storage(), host="cmp-b-09")
    outcome = run(records=records(target_host="cmp-b-09"), dest_logs=dest_logs(ISCSI),
                  dest_storage=h_storage)  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST
    assert "cmp-b-09" not in rendered(ID, outcome)
    # lines read on another host are not D's evidence
    elsewhere = replace(dest_logs(ISCSI), host="cmp-b-09")
    assert not isinstance(
        run(records=records(target_host="cmp-b-09"), dest_logs=elsewhere), Concluded
    )


SECRET = "457eb676-33da-42ec-9a8c-9293d545c337"
# Nova's processutils text for a failed `mount -t nfs`, as an event detail (cut at 255)
NFS_CMD = (
    "Unexpected error while running command.\nCommand: sudo nova-rootwrap "
    "/etc/nova/rootwrap.conf mount -t nfs 10.20.0.60:/srv/cinder "
    "/var/lib/nova/mnt/5b1f6a9e0c2d4e8f9a7b3c1d2e4f6a8b\nExit code: 32\nStdout: ''\n"
    "Stderr: 'mount.nfs: access denied by server while mounting 10.20.0.60:/srv/cinder\\n'"
)


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("kw", "fix", "says"),
    [
        pytest.param({"source_logs": src_logs(
            f"Live Migration failure: Secret not found: no secret with matching uuid '{SECRET}'")},
            "rbd-secret", f"has no secret {SECRET}", id="rbd-secret-missing-on-dest"),
        pytest.param({"dest_logs": dest_logs(
            "libvirt.libvirtError: internal error: unable to execute QEMU command "
            "'blockdev-add': error connecting: Permission denied")},
            "cephx", "cephx refused the client key", id="rbd-cephx-denied"),
        pytest.param({"dest_logs": dest_logs("Error connecting to ceph cluster.")},
            "ceph-reach", "Ceph cluster could not be reached", id="ceph-unreachable"),
        pytest.param({"dest_logs": dest_logs(
            "Failed to mount 10.20.0.60:/srv/cinder, reason: mount.nfs: access denied "
            "by server while mounting 10.20.0.60:/srv/cinder")},
            "nfs-export", "mount.nfs: access denied by server", id="nfs-access-denied"),
        pytest.param({"actions": actions(event("compute_pre_live_migration",
                                               safe_truncate(f"Migration error: {NFS_CMD}")))},
            "nfs-mount", "could not mount 10.20.0.60:/srv/cinder", id="nfs-cut-by-nova"),
        pytest.param({"dest_logs": dest_logs(
            "[Errno 116] Stale file handle: '/var/lib/nova/mnt/5b1f6a9e0c2d4e8f9a7b3c1d2e4f6a8b'")},
            "nfs-stale", "is stale", id="nfs-stale-handle"),
    ],
)  # fmt: skip
def test_ceph_rbd_and_nfs_failures_name_their_cause_and_fix(kw, fix, says):
    """An RBD or NFS volume's own failure text is recognised, about the destination,
    with the fix for that backend and none of the iSCSI steps."""
    outcome = assert_concludes(run(**kw))
    assert outcome.facts["vol_fix"] == fix
    assert says in outcome.facts["reason"]
    assert outcome.confidence is Confidence.LIKELY
    text = rendered(ID, outcome)
    assert f"{DST}" in text
    assert "iscsiadm" not in text
    assert "initiatorname" not in text


@pytest.mark.outcome(ID, "concluded")
def test_an_rbd_failure_beats_cinders_generic_answer():
    """Cinder's "Unable to update the attachment" beside librbd's refusal: the refusal
    names the cause."""
    outcome = assert_concludes(run(
        actions=actions(event("compute_pre_live_migration", UPDATE_FAILED)),
        source_logs=src_logs(f"Live Migration failure: Secret not found: no secret with "
                             f"matching uuid '{SECRET}'"),
    ))  # fmt: skip
    assert outcome.facts["vol_fix"] == "rbd-secret"
    assert outcome.facts["secret_uuid"] == SECRET


@pytest.mark.outcome(ID, "ruled_out")
def test_a_libvirt_connect_failure_in_the_source_log_is_not_a_volume_failure():
    """The source's own TLS connect error is no RBD/NFS signature: healthy storage rules
    the volume out."""
    outcome = run(
        volumes=volumes(), volume_services=volume_services(),
        source_logs=src_logs("Live Migration failure: operation failed: Failed to connect "
                             f"to remote libvirt URI qemu+tls://{DST}/system: Connection refused"),
    )  # fmt: skip
    assert_rules_out(outcome)
