"""placement.insufficient-resources: the destination lacks capacity for the VM."""

from __future__ import annotations

from dataclasses import replace

import pytest

from diagnostics.checks.insufficient_resources import insufficient_resources
from diagnostics.evidence.types import Inventory
from diagnostics.model import (
    Confidence,
    CouldNotCheck,
    Inconclusive,
    RootCauseId,
)
from tests.checks.conftest import (
    DST,
    SRC,
    VM_ID,
    actions,
    commands,
    dest_logs,
    event,
    placement,
    provider,
    records,
    rendered,
    rp_uuid,
    server,
    services,
    svc,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "placement.insufficient-resources"
LACK = (
    f"Migration pre-check error: Unable to migrate {VM_ID} to {DST}: "
    "Lack of memory(host:2048 <= instance:4096)"
)
FULL = provider(
    f"{DST}.example", usages={"VCPU": 4, "MEMORY_MB": 63000, "DISK_GB": 100}
)


def run(**kw):
    base = {"server": server(), "records": records(), "placement": None, "actions": None,
            "services": None,
                "dest_logs": None, "mgmt": None}  # fmt: skip
    return outcome_of(insufficient_resources, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_placement_free_capacity():
    """Lack of memory and Placement showing the shortage is confirmed."""
    acts = actions(event("conductor_live_migrate_instance", LACK))
    outcome = run(actions=acts, placement=placement(provider(f"{SRC}.example"), FULL))
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["shortage"] == "MEMORY_MB needs 4096, 2024 free"
    assert f"openstack resource provider usage show {rp_uuid(DST + '.example')}" in text
    # the fix comes first: the audit that frees leaked allocations, then a retry
    assert commands(ID, outcome)[1].startswith("nova-manage placement audit --delete")


@pytest.mark.outcome(ID, "concluded")
def test_log_only_names_the_refusal():
    """The pre-check text alone is likely and quoted in the summary."""
    outcome = run(actions=actions(event("conductor_live_migrate_instance", LACK)))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert (
        "lack of memory (host 2048 MB <= instance 4096 MB)" in outcome.facts["shortage"]
    )
    assert f"openstack resource provider list --name {DST}" in commands(ID, outcome)


@pytest.mark.outcome(ID, "concluded")
def test_placement_refusal_gives_the_provider():
    """Placement's capacity refusal names the resource provider for the command."""
    rp = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    text = (f"Unable to allocate inventory: Unable to create allocation for 'DISK_GB' on "
            f"resource provider '{rp}'. The requested amount would exceed the capacity.")  # fmt: skip
    outcome = run(
        records=None, actions=actions(event("conductor_live_migrate_instance", text))
    )
    assert_concludes(outcome)
    assert f"openstack resource provider usage show {rp}" in commands(ID, outcome)


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_destination_has_room():
    """Plenty of room and no refusal rules it out."""
    acts = actions(event("compute_pre_live_migration", "Volume device not found at ."))
    outcome = run(actions=acts, placement=placement())
    assert_rules_out(outcome)


@pytest.mark.outcome(ID, "concluded")
def test_respects_reserved_and_allocation_ratio():
    """Capacity is (total - reserved) * ratio - used, so a ratio of 1.0 can run out."""
    tight = provider(f"{DST}.example", inventories={
        "VCPU": Inventory(total=4, reserved=2, allocation_ratio=1.0),
        "MEMORY_MB": Inventory(total=65536), "DISK_GB": Inventory(total=500)},
        usages={"VCPU": 1})  # fmt: skip
    outcome = run(placement=placement(tight))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE
    assert "VCPU needs 2, 1 free" in outcome.facts["shortage"]


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_placement_or_text():
    """No Placement view and no failure text is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "concluded")
def test_no_valid_host_beside_a_placement_shortage_is_likely():
    """Nova's generic 'No valid host' plus Placement's measured shortage: two sources."""
    nvh = "No valid host was found. There are not enough hosts available."
    outcome = run(
        actions=actions(event("conductor_live_migrate_instance", nvh)),
        placement=placement(provider(f"{SRC}.example"), FULL),
    )
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert outcome.cites[0].text == nvh
    assert "MEMORY_MB needs 4096, 2024 free" in outcome.cites[-1].text


@pytest.mark.outcome(ID, "missing_evidence")
def test_no_placement_is_could_not_check_not_room():
    """Without Placement, 'the destination has room' is never claimed."""
    acts = actions(event("conductor_live_migrate_instance", "something else failed"))
    outcome = run(actions=acts)
    assert_missing_evidence(outcome, CouldNotCheck)
    assert "Placement" in outcome.why


@pytest.mark.outcome(ID, "concluded")
def test_shortage_beside_no_valid_host_names_the_service_rival_when_unknown():
    """A shortage beside NoValidHost with os-services unread says what it could not rule out."""
    nvh = actions(event("conductor_live_migrate_instance",
                        "No valid host was found. There are not enough hosts available."))  # fmt: skip
    outcome = run(actions=nvh, placement=placement(FULL))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert any("compute service" in c for c in outcome.not_ruled_out)


@pytest.mark.outcome(ID, "concluded")
def test_shortage_beside_no_valid_host_with_the_destination_down_is_its_consequence():
    """A down destination service explains NoValidHost first (the deeper cause)."""
    nvh = actions(event("conductor_live_migrate_instance",
                        "No valid host was found. There are not enough hosts available."))  # fmt: skip
    down = services(svc(SRC), svc(DST, state="down"))
    outcome = run(actions=nvh, placement=placement(FULL), services=down)
    assert_concludes(outcome)
    assert RootCauseId.COMPUTE_SERVICE_DOWN in outcome.explained_by


H = "cmp-b-09"


@pytest.mark.outcome(ID, "concluded")
def test_the_past_shortage_stays_on_its_destination_with_another_target():
    """--target-host H with room: "Lack of memory" of the past move and D's Placement
    numbers are about D (confirmed as without the flag); H is not said to lack memory,
    and a D line in H's logs is not read."""
    acts = actions(event("conductor_live_migrate_instance", LACK))
    room = placement(provider(f"{SRC}.example"), FULL, provider(H))
    outcome = run(
        records=records(target_host=H), actions=acts, placement=room,
        dest_logs=dest_logs("Lack of memory"),
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST
    assert outcome.confidence is Confidence.CONFIRMED
    assert all(H not in c.source + c.text for c in outcome.cites)
    assert H not in rendered(ID, outcome)


@pytest.mark.outcome(ID, "concluded")
def test_a_full_target_host_is_said_from_its_own_numbers_only():
    """--target-host H short of memory: said of H from Placement alone (possible),
    never with the past move's "Lack of memory" about D as its evidence."""
    acts = actions(event("conductor_live_migrate_instance", LACK))
    full_h = replace(FULL, name=H, uuid=rp_uuid(H))
    outcome = run(
        records=records(target_host=H), actions=acts,
        placement=placement(provider(f"{SRC}.example"), full_h),
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == H
    assert outcome.confidence is Confidence.POSSIBLE
    assert [c.text for c in outcome.cites] == [f"{H}: MEMORY_MB needs 4096, 2024 free"]
