"""neutron.port-binding: Neutron cannot bind the VM's port on the destination."""

from __future__ import annotations

from dataclasses import replace

import pytest

from diagnostics.checks.port_binding import port_binding
from diagnostics.evaluate import evaluate
from diagnostics.evidence.types import AgentInfo, Server
from diagnostics.model import (
    Confidence,
    CouldNotCheck,
    RootCauseId,
    Skipped,
)
from diagnostics.plugins import bundled_check as get_check
from tests.checks.conftest import (
    DST,
    PORT_ID,
    VM_ID,
    actions,
    agents,
    commands,
    dest_logs,
    event,
    mgmt,
    ports,
    records,
    rendered,
    server,
    src_logs,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "neutron.port-binding"
BINDING_FAILED = (
    f"Migration pre-check error: Binding failed for port {PORT_ID}, please check neutron "
    "logs for more information."
)


def run(**kw):
    base = {"server": server(), "records": records(), "ports": None, "agents": None, "actions": None,
                "source_logs": None, "dest_logs": None, "mgmt": None}  # fmt: skip
    return outcome_of(port_binding, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_dead_agent_on_destination():
    """Binding failed plus a dead ovn-controller on the destination is confirmed."""
    outcome = run(actions=actions(event("conductor_live_migrate_instance", BINDING_FAILED)),
                  agents=agents(dest_alive=False))  # fmt: skip
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert (
        f"openstack port show {PORT_ID} -c binding_vif_type -c binding_host_id -c status"
        in text
    )
    steps = commands(ID, outcome)
    assert steps[:2] == [
        "journalctl -u ovn-controller -n 100 --no-pager",
        "systemctl restart ovn-controller",
    ]


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"mgmt": mgmt(f"Refusing to bind port {PORT_ID} due to no OVN chassis "
                                   f"for host: {DST}")}, id="no-ovn-chassis"),
        pytest.param({"source_logs": src_logs(
            "Timed out waiting for events: [('network-vif-plugged', 'x')]. If these timeouts "
            f"are a persistent issue it could mean the networking backend on host {DST}")},
            id="vif-plug-timeout"),
        pytest.param({"ports": ports("binding_failed")}, id="vif-type-binding-failed"),
    ],
)  # fmt: skip
def test_likely_from_one_source(kw):
    """One binding signal concludes as likely."""
    outcome = run(**kw)
    rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "concluded")
def test_dead_agent_alone_is_possible_and_finds_the_port_by_device():
    """A dead agent without a binding error is circumstantial."""
    outcome = run(agents=agents(dest_alive=False))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE
    assert f"openstack port list --device-id {VM_ID} --long" in commands(ID, outcome)


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_with_healthy_ports_and_agents():
    """Bound ports and live agents rule it out, even with another failure logged."""
    logs = src_logs("Live Migration failure: operation failed: missing features: avx")
    assert_rules_out(run(ports=ports(), agents=agents(), source_logs=logs))


@pytest.mark.outcome(ID, "missing_evidence")
def test_skipped_without_evidence():
    """No ports, agents or failure text: needs_any skips it (never 'bound and alive')."""
    result = evaluate(get_check(ID), {Server: server()})
    assert_missing_evidence(result, Skipped)
    assert "one of Ports" in result.outcome.reason


@pytest.mark.outcome(ID, "missing_evidence")
@pytest.mark.parametrize(
    ("kw", "unread"),
    [
        pytest.param({"agents": agents()}, "ports", id="ports-missing"),
        pytest.param({"ports": ports()}, "network agents", id="agents-missing"),
    ],
)  # fmt: skip
def test_neutron_down_is_could_not_check_not_bound_and_alive(kw, unread):
    """With Neutron evidence missing, 'ports bound, agents alive' is never claimed."""
    acts = actions(event("conductor_live_migrate_instance", "something else failed"))
    outcome = run(actions=acts, **kw)
    assert_missing_evidence(outcome, CouldNotCheck)
    assert unread in outcome.why


@pytest.mark.outcome(ID, "concluded")
def test_a_stale_inactive_binding_on_the_destination_explains_the_refused_binding():
    """Binding failed with an INACTIVE binding already there: a consequence of the leftover."""
    outcome = run(actions=actions(event("conductor_live_migrate_instance", BINDING_FAILED)),
                  ports=ports(inactive_on=DST), agents=agents())  # fmt: skip
    assert_concludes(outcome)
    assert RootCauseId.STALE_LEFTOVERS in outcome.explained_by
    # when the leftover's own check cannot conclude (conductor log unread), the card
    # still names it as the rival it may be
    assert any(
        f"leftover INACTIVE binding on {DST}" in r for r in outcome.not_ruled_out
    )


@pytest.mark.outcome(ID, "concluded")
def test_no_leftover_caveat_without_a_stale_binding():
    """Only an INACTIVE binding on the destination is named as a possible leftover."""
    outcome = run(actions=actions(event("conductor_live_migrate_instance", BINDING_FAILED)),
                  ports=ports(), agents=agents())  # fmt: skip
    assert_concludes(outcome)
    assert outcome.not_ruled_out == ()


H = "cmp-b-09"


def with_h(h_alive: bool):
    """Neutron's agents on the source, the failed move's destination D and H."""
    base = agents(dest_alive=False)  # D's agent is dead
    h_agent = AgentInfo(agent_type="OVN Controller agent", host=H, alive=h_alive,
                        admin_state_up=True, binary="ovn-controller")  # fmt: skip
    return replace(base, agents=(*base.agents, h_agent))


@pytest.mark.outcome(ID, "concluded")
def test_the_past_binding_failure_stays_on_its_destination_with_another_target():
    """--target-host H with a live agent: the binding failure on D (its text, D's dead
    agent) is about D, never "could not bind the port on H"."""
    fail = f"Binding failed for port {PORT_ID}, please check neutron logs for more information."
    acts = actions(event("compute_pre_live_migration", fail))
    outcome = run(records=records(target_host=H), actions=acts, ports=ports(),
                  agents=with_h(h_alive=True), dest_logs=dest_logs(fail))  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST
    assert H not in rendered(ID, outcome)
    assert all(not c.source.startswith(DST) for c in outcome.cites)  # not H's log lines


@pytest.mark.outcome(ID, "concluded")
def test_a_dead_agent_on_the_target_host_is_about_the_target_only():
    """--target-host H whose agent is dead: said of H from Neutron's agents, without
    the past move's binding failure text as its evidence."""
    fail = f"Binding failed for port {PORT_ID}, please check neutron logs for more information."
    outcome = run(records=records(target_host=H), ports=ports(), agents=with_h(h_alive=False),
                  actions=actions(event("compute_pre_live_migration", fail)))  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == H
    assert outcome.cites == ()
    assert outcome.confidence is Confidence.POSSIBLE
