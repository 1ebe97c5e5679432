"""cinder.volume-connection: the VM's volumes cannot be connected on the destination."""

from __future__ import annotations

import pytest

from diagnostics.checks.volume_connection import volume_connection
from diagnostics.model import Concluded, Confidence, Inconclusive, RuledOut
from tests.checks.conftest import (
    VOL_ID,
    actions,
    dest_logs,
    dest_storage,
    event,
    records,
    rendered,
    server,
    volume_services,
    volumes,
)

ID = "cinder.volume-connection"
WITH_VOLUME = server(volume_ids=(VOL_ID,))
ISCSI = (
    "Failed to login iSCSI target iqn.2010-10.org.openstack:volume-x on portal "
    "10.0.0.50:3260 (exit code 24)."
)


def run(**kw):
    base = {"server": WITH_VOLUME, "records": records(), "volumes": None, "volume_services": None,
                "dest_storage": None, "actions": None, "dest_logs": None}  # fmt: skip
    return volume_connection(**(base | kw))


def test_confirmed_by_log_and_down_cinder_volume():
    """os-brick's device error plus cinder-volume down is confirmed."""
    acts = actions(event("compute_pre_live_migration", "Volume device not found at ."))
    outcome = run(actions=acts, volume_services=volume_services("down"),
                  dest_storage=dest_storage())  # fmt: skip
    text = rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.CONFIRMED
    assert "has no iSCSI session" in outcome.facts["reason"]
    assert f"--volume-id {VOL_ID}" in text
    assert "Restore cinder-volume on cinder-lvm@lvm" in text


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"dest_logs": dest_logs(ISCSI)}, id="iscsi-login-failure"),
        pytest.param({"volumes": volumes("attaching")}, id="attachment-stuck"),
        pytest.param(
            {"volume_services": volume_services("down")}, id="cinder-volume-down"
        ),
    ],
)
def test_likely_from_one_source(kw):
    """Any one storage signal concludes as likely."""
    outcome = run(**kw)
    rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"volumes": volumes(), "volume_services": volume_services()},
                     id="healthy-storage"),
        pytest.param({"server": server(), "volume_services": volume_services("down")},
                     id="no-volumes-so-cinder-irrelevant"),
    ],
)  # fmt: skip
def test_ruled_out(kw):
    """Healthy storage, or a VM without volumes, rules it out."""
    assert isinstance(run(**kw), RuledOut)


def test_inconclusive_without_storage_evidence():
    """No volumes, services, logs or events is inconclusive."""
    assert isinstance(run(), Inconclusive)
