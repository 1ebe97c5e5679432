"""nova.cold-migration-ssh: compute-to-compute SSH failed during a cold migration."""

from __future__ import annotations

import pytest

from diagnostics.checks.cold_migration_ssh import cold_migration_ssh
from diagnostics.model import (
    Confidence,
    CouldNotCheck,
    Inconclusive,
)
from diagnostics.signatures import safe_truncate
from tests.checks.conftest import (
    DST,
    VM_ID,
    actions,
    commands,
    event,
    record,
    records,
    rendered,
    server,
    ssh_probe,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "nova.cold-migration-ssh"
COLD = records(record(kind="migration", status="error"))


def ssh_error(stderr: str) -> str:
    return (
        "Resize error: not able to execute ssh command: Unexpected error while running "
        f"command.\nCommand: ssh -o BatchMode=yes {DST} mkdir -p /opt/data/instances/{VM_ID}"
        f"\nExit code: 255\nStdout: ''\nStderr: '{stderr}\\r\\n'"
    )


def run(**kw):
    base = {
        "server": server(),
        "records": COLD,
        "probe": None,
        "actions": None,
        "source_logs": None,
    }
    return outcome_of(cold_migration_ssh, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_the_probe():
    """The failed event and the same ssh failing from the probe is confirmed."""
    acts = actions(event("compute_resize_instance", ssh_error("Host key verification failed.")),
                   action="migrate")  # fmt: skip
    outcome = run(actions=acts, probe=ssh_probe("Host key verification failed."))
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["reason"] == "host key verification failed"
    steps = commands(ID, outcome)
    assert f"sudo -u pf9 ssh -o BatchMode=yes {DST} true" == steps[-1]
    # the key is trusted only after its fingerprint was read on the host itself
    fingerprint = steps.index("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
    keyscan = steps.index(f"ssh-keyscan -t ed25519 {DST} | ssh-keygen -lf -")
    trust = next(i for i, c in enumerate(steps) if "accept-new" in c)
    assert fingerprint < keyscan < trust
    assert "known_hosts" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        pytest.param(f"pf9@{DST}: Permission denied (publickey).", "public key refused",
                     id="publickey"),
        pytest.param(f"ssh: connect to host {DST} port 22: Connection refused",
                     "SSH connection refused", id="refused"),
        pytest.param(f"ssh: Could not resolve hostname {DST}: Name or service not known",
                     "host name does not resolve", id="dns"),
    ],
)  # fmt: skip
def test_classifies_stderr_from_the_event(stderr, reason):
    """The ssh stderr inside the event is classified; the event alone is likely."""
    acts = actions(
        event("compute_resize_instance", ssh_error(stderr)), action="migrate"
    )
    outcome = run(actions=acts)
    assert_concludes(outcome)
    assert outcome.facts["reason"] == reason
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_ssh_works():
    """A working ssh and no ssh failure in the texts rules it out."""
    acts = actions(event("compute_prep_resize", "No valid host found for cold migrate"))
    assert_rules_out(run(probe=ssh_probe(), actions=acts))


@pytest.mark.outcome(ID, "concluded")
def test_probe_alone_without_records_concludes():
    """Missing optional records and texts: the failing probe alone still concludes."""
    outcome = run(records=None, probe=ssh_probe("Host key verification failed."))
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_probe_or_text():
    """No probe and no failure text is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "concluded")
def test_event_detail_cut_by_nova_still_concludes_with_the_fix():
    """Nova keeps 255 bytes: 'Stderr: 'Host key verification ' with no closing quote."""
    detail = safe_truncate(
        ssh_error("Host key verification failed.").replace(DST, "10.20.1.13"), 255
    )
    assert not detail.endswith("'")
    outcome = run(actions=actions(event("compute_resize_instance", detail)))
    assert_concludes(outcome)
    assert outcome.facts["reason"] == "host key verification failed"
    steps = commands(ID, outcome)
    # the address Nova ssh'd to is the one whose key must be trusted
    assert "ssh-keyscan -t ed25519 10.20.1.13 | ssh-keygen -lf -" in steps


def cut_at_255(text: str) -> str:
    """Nova's safe_truncate of event details and fault messages (255 bytes)."""
    return text.encode("utf-8")[:255].decode("utf-8", errors="ignore")


@pytest.mark.outcome(ID, "concluded")
def test_truncated_event_alone_names_the_host_key_at_likely():
    """The event cut at 255 bytes ('Host key verification ' with no closing quote), SSH
    off: the SSH cause at the confidence one source supports."""
    details = (
        "Resize error: not able to execute ssh command: Unexpected error while running "
        "command.\nCommand: ssh -o BatchMode=yes 10.20.1.13 mkdir -p /var/lib/nova/"
        f"instances/{VM_ID}\nExit code: 255\nStdout: ''\nStderr: 'Host key verification "
        "failed.\\r\\n'"
    )
    cut = cut_at_255(details)
    assert cut.endswith("Stderr: 'Host key verification "), cut[-40:]
    acts = actions(event("compute_resize_instance", cut), action="migrate")
    outcome = run(actions=acts)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert outcome.facts["reason"] == "host key verification failed"


@pytest.mark.outcome(ID, "missing_evidence")
def test_without_the_probe_ssh_is_never_said_to_work():
    """Failure text without an SSH error and no probe: could not check, not 'SSH works'."""
    acts = actions(event("compute_resize_instance", "Resize error: disk too small"),
                   action="migrate")  # fmt: skip
    outcome = run(actions=acts)
    assert_missing_evidence(outcome, CouldNotCheck)
    assert "probe" in outcome.why


H = "cmp-b-09"


def h_probe(stderr: str = ""):
    """The SSH probe from the source towards the --target-host H."""
    from dataclasses import replace

    probe = ssh_probe(stderr)
    return replace(probe, dest=H, provenance=probe.provenance.replace(DST, H))


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.outcome(ID, "ruled_out")
def test_the_past_ssh_failure_stays_about_its_destination_with_another_target():
    """--target-host H whose SSH works: the logged host-key failure towards D is about
    D (likely: no probe reached D), never "could not reach H"; the H probe is not cited."""
    retarget = records(record(kind="migration", status="error"), target_host=H)
    acts = actions(event("compute_resize_instance", ssh_error("Host key verification failed.")),
                   action="migrate")  # fmt: skip
    outcome = run(records=retarget, actions=acts, probe=h_probe())
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST
    assert outcome.confidence is Confidence.LIKELY
    assert all(H not in c.source + c.text for c in outcome.cites)
    assert H not in rendered(ID, outcome).split("could not rule out")[0]
    # H's own failing probe speaks of H, and only it is cited
    broken = run(records=retarget, actions=acts, probe=h_probe("Connection refused"))
    assert_concludes(broken)
    assert broken.facts["dest_host"] == H
    assert broken.cites
    assert all(DST not in c.source for c in broken.cites)
    quiet = run(records=retarget, probe=h_probe())
    assert_rules_out(quiet)
