"""libvirt.tls-connect: the source cannot open qemu+tls to the destination."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from diagnostics.checks.tls_connect import tls_connect
from diagnostics.evaluate import evaluate, rank
from diagnostics.evidence.types import DestHostServices, MigrationRecords, Server
from diagnostics.model import (
    CheckResult,
    Concluded,
    Confidence,
    CouldNotCheck,
    RootCauseId,
    Skipped,
)
from diagnostics.plugins import bundled_check as get_check
from diagnostics.remedies import fill
from tests.checks.conftest import (
    DST,
    NOW,
    SRC,
    actions,
    cert,
    dest_logs,
    records,
    rendered,
    server,
    src_logs,
    tls_probe,
    units,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "libvirt.tls-connect"
URI_FAIL = (
    "Live Migration failure: operation failed: Failed to connect to remote libvirt URI "
    f"qemu+tls://{DST}/system: authentication failed: Failed to verify peer's certificate"
)
EXPIRED = (
    "2026-11-25 19:02:11.498+0000: 2211: error : virNetTLSContextCheckCertificate:1093 : "
    "Certificate check failed The server certificate /etc/pki/libvirt/servercert.pem "
    "has expired"
)


def run(**kw):
    base = {"server": server(), "records": records(), "probe": None, "source_logs": None,
            "dest_units": None,
                "dest_logs": None, "actions": None}  # fmt: skip
    return outcome_of(tls_connect, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("kw", "reason", "confidence"),
    [
        pytest.param({"source_logs": src_logs(URI_FAIL)}, "peer's certificate failed",
                     Confidence.LIKELY, id="peer-cert-in-source-log"),
        pytest.param({"source_logs": src_logs(URI_FAIL), "dest_logs": dest_logs(EXPIRED)},
                     "servercert.pem has expired", Confidence.LIKELY,
                     id="libvirtd-reason-beats-peer-cert"),
        pytest.param({"probe": tls_probe(connect_ok=False, port_open=False),
                      "dest_units": units(DestHostServices)},
                     "TCP 16514 on cmp-b-01 is closed", Confidence.CONFIRMED,
                     id="probe-port-closed"),
        pytest.param({"probe": tls_probe(connect_ok=False,
                                         dest_server_cert=cert(not_after=NOW - timedelta(days=2)))},
                     "expired on", Confidence.CONFIRMED, id="probe-cert-expired"),
        pytest.param({"probe": tls_probe(connect_ok=False,
                                         dest_server_cert=cert(not_before=NOW + timedelta(hours=3)))},
                     "not yet valid", Confidence.CONFIRMED, id="probe-cert-not-yet-valid"),
        pytest.param({"probe": tls_probe(connect_ok=False,
                                         dest_server_cert=cert(sans=("DNS:cmp-b-01.mgmt",),
                                                               subject="CN = cmp-b-01.mgmt"))},
                     "not the Nova host name cmp-b-01", Confidence.CONFIRMED,
                     id="probe-san-mismatch"),
        pytest.param({"actions": actions(), "source_logs": src_logs(
            "Live Migration failure: operation failed: Failed to connect to remote libvirt URI "
            f"qemu+tls://{DST}/system: unable to connect to server at '{DST}:16514': "
            "Connection refused")},
                     "TCP 16514 on cmp-b-01: Connection refused", Confidence.LIKELY,
                     id="socket-refused-in-log"),
    ],
)  # fmt: skip
def test_concludes_with_the_most_specific_reason(kw, reason, confidence):
    """A TLS failure in the logs or the probe concludes, naming the specific reason."""
    outcome = run(**kw)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert reason in outcome.facts["reason"]
    assert outcome.confidence is confidence
    assert f"virsh -r -c qemu+tls://{DST}/system version" in text
    assert outcome.facts["source_host"] == SRC


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"probe": tls_probe()}, id="probe-connects"),
        pytest.param({"probe": tls_probe(), "source_logs": src_logs(
            "Live Migration failure: operation failed: guest CPU doesn't match "
            "specification: missing features: avx512f")}, id="other-libvirt-failure"),
    ],
)  # fmt: skip
def test_ruled_out_when_tls_works(kw):
    """A working TLS connect and no TLS line rules the check out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_skipped_without_probe_or_logs():
    """No probe and no logs is not 'looked and found nothing': needs_any skips it."""
    result = evaluate(get_check(ID), {Server: server(), MigrationRecords: records()})
    assert_missing_evidence(result, Skipped)
    assert "one of LibvirtTlsProbe" in result.outcome.reason


@pytest.mark.outcome(ID, "concluded")
def test_logs_only_without_records_still_concludes():
    """Missing optional records: host names fall back to the server and the log."""
    outcome = run(records=None, source_logs=src_logs(URI_FAIL))
    rendered(ID, outcome)


@pytest.mark.outcome(ID, "concluded")
def test_expired_certificate_is_cited_with_its_dates_and_host_to_fix():
    """The probe's certificate (subject, dates, SAN) is evidence; the fix names its host."""
    expired = cert(not_after=NOW - timedelta(days=2))
    probe = tls_probe(
        connect_ok=False,
        dest_server_cert=expired,
        provenance=(
            f"{SRC}$ virsh -r -c qemu+tls://{DST}/system version; "
            f"{DST}$ openssl x509 -noout -in {expired.path}"
        ),
    )
    outcome = run(probe=probe)
    assert_concludes(outcome)
    cert_cite = outcome.cites[1]
    assert cert_cite.source == f"{DST}$ openssl x509 -noout -in {expired.path}"
    assert f"notAfter={(NOW - timedelta(days=2)):%Y-%m-%d}" in cert_cite.text
    steps = fill(get_check(ID).remediation, outcome.facts)
    renew = [s for s in steps if s.command and s.command.startswith("install")]
    assert [(s.on.name, s.command) for s in renew] == [
        (DST, f"install -m 0644 {expired.path}.new {expired.path}")
    ]


REFUSED = (
    "error: failed to connect to the hypervisor\n"
    f"error: unable to connect to server at '{DST}:16514': Connection refused"
)


def refused_probe(**kw):
    return tls_probe(connect_ok=False, port_open=False, connect_output=REFUSED, **kw)


@pytest.mark.outcome(ID, "concluded")
def test_refused_with_libvirtd_dead_is_a_consequence_of_the_service_down():
    """Connection refused while libvirtd is not running: never TLS-confirmed; explained by
    compute_service_down."""
    outcome = run(probe=refused_probe(),
                  dest_units=units(DestHostServices, libvirtd="inactive"))  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE
    assert outcome.explained_by == {RootCauseId.COMPUTE_SERVICE_DOWN}
    assert f"libvirtd on {DST} is inactive" in outcome.facts["reason"]


@pytest.mark.outcome(ID, "concluded")
def test_refused_with_libvirtd_state_unknown_is_likely_and_says_so():
    """Refused and the destination's units unread: at most likely, rival named."""
    outcome = run(probe=refused_probe())
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert any("libvirtd not running" in c for c in outcome.not_ruled_out)


@pytest.mark.outcome(ID, "concluded")
def test_refused_with_libvirtd_active_is_the_tls_listener_confirmed():
    """libvirtd runs but nothing accepts 16514: the TLS listener or a firewall, confirmed."""
    outcome = run(probe=refused_probe(), dest_units=units(DestHostServices))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert "libvirtd is active" in outcome.facts["reason"]
    assert not outcome.not_ruled_out


@pytest.mark.outcome(ID, "concluded")
def test_refused_in_the_log_with_libvirtd_dead_is_a_consequence_too():
    """The log's 'Connection refused' and a dead libvirtd: the same causal rule."""
    line = (f"Live Migration failure: operation failed: Failed to connect to remote libvirt "
            f"URI qemu+tls://{DST}/system: unable to connect to server at '{DST}:16514': "
            "Connection refused")  # fmt: skip
    outcome = run(source_logs=src_logs(line),
                  dest_units=units(DestHostServices, libvirtd="failed"))  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE
    assert RootCauseId.COMPUTE_SERVICE_DOWN in outcome.explained_by


def test_ranking_makes_the_dead_libvirtd_primary_and_tls_its_consequence():
    """With both concluded, compute_service_down is primary; libvirt_tls follows as its
    consequence, never confirmed."""
    tls = run(
        probe=refused_probe(), dest_units=units(DestHostServices, libvirtd="inactive")
    )
    down = Concluded(facts={"host": DST, "problem": "libvirtd not active on the host",
                            "fix": "x", "server_name": "web-1"},
                     confidence=Confidence.LIKELY)  # fmt: skip
    specs = {c.id: c for c in (get_check(ID), get_check("nova.compute-service-down"))}
    results = [
        CheckResult(check_id=ID, title="t", step=7, root_cause=RootCauseId.LIBVIRT_TLS,
                    outcome=tls),
        CheckResult(check_id="nova.compute-service-down", title="t", step=2,
                    root_cause=RootCauseId.COMPUTE_SERVICE_DOWN, outcome=down),
    ]  # fmt: skip
    primary, others = rank(results, specs)
    assert primary is not None
    assert primary.root_cause is RootCauseId.COMPUTE_SERVICE_DOWN
    assert primary.explains == (RootCauseId.LIBVIRT_TLS,)
    (tls_finding,) = others
    assert tls_finding.consequence_of is RootCauseId.COMPUTE_SERVICE_DOWN
    assert tls_finding.confidence is not Confidence.CONFIRMED


UNREADABLE_KEY = (
    "error: failed to connect to the hypervisor\n"
    "error: Unable to set x509 key and certificate: /etc/pki/libvirt/private/clientkey.pem, "
    "/etc/pki/libvirt/clientcert.pem: Error while reading file."
)


@pytest.mark.outcome(ID, "missing_evidence")
@pytest.mark.parametrize(
    ("output", "why"),
    [
        pytest.param(UNREADABLE_KEY, "cannot read the libvirt client credentials",
                     id="unreadable-client-key"),
        pytest.param("error: failed to connect to the hypervisor\nerror: Cannot read private "
                     "key '/etc/pki/libvirt/private/clientkey.pem': Permission denied",
                     "cannot read the libvirt client credentials", id="permission-denied"),
        pytest.param("error: Unable to resolve address 'nohost' service '16514': Name or "
                     "service not known", "cannot resolve", id="unresolved-name"),
    ],
)  # fmt: skip
def test_the_probes_own_failure_is_could_not_check_never_tls(output, why):
    """virsh failing for the probe's reasons makes no conclusion, and says what it needs."""
    probe = tls_probe(connect_ok=False, port_open=True, connect_output=output)
    outcome = run(probe=probe, dest_units=units(DestHostServices))
    assert_missing_evidence(outcome, CouldNotCheck)
    assert why in outcome.why
    assert outcome.needs
    assert outcome.reason.startswith("could not check: ")


@pytest.mark.outcome(ID, "concluded")
def test_unreadable_key_as_root_is_the_hosts_problem():
    """Run as root (sudo), an unreadable client key is a fault of the host."""
    probe = tls_probe(connect_ok=False, connect_output=UNREADABLE_KEY, privileged=True)
    assert_concludes(run(probe=probe, dest_units=units(DestHostServices)))


@pytest.mark.outcome(ID, "concluded")
def test_own_probe_failure_leaves_the_logs_to_conclude_at_likely():
    """The probe could not check, but the migration's own log line still concludes."""
    probe = tls_probe(connect_ok=False, connect_output=UNREADABLE_KEY)
    outcome = run(probe=probe, source_logs=src_logs(URI_FAIL))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "missing_evidence")
def test_no_probe_with_logs_is_could_not_check_not_ruled_out():
    """Logs without a TLS line but no probe: 'the TLS connect works' is never claimed."""
    outcome = run(source_logs=src_logs("Live Migration failure: something else"))
    assert_missing_evidence(outcome, CouldNotCheck)


H = "cmp-b-09"


def h_probe(**kw):
    """The TLS probe from the source towards the --target-host H."""
    return tls_probe(dest=H, provenance=f"{SRC}$ virsh -r -c qemu+tls://{H}/system version",
                     **kw)  # fmt: skip


@pytest.mark.outcome(ID, "concluded")
def test_the_failed_moves_logs_stay_about_its_destination_with_another_target():
    """--target-host H, H's probe healthy: the logged TLS failure is the past move's, on
    the recorded destination D; it is reported about D (likely: no probe reached D), and
    nothing of H (its probe, its units) is cited for it."""
    logs = {"source_logs": src_logs(URI_FAIL), "dest_logs": dest_logs(EXPIRED)}
    past = run(
        records=records(target_host=H), probe=h_probe(connect_ok=True),
        dest_units=units(DestHostServices, libvirtd="active"), **logs,
    )  # fmt: skip
    assert_concludes(past)
    assert past.facts["dest_host"] == DST
    assert past.confidence is Confidence.LIKELY
    assert all(H not in c.source + c.text for c in past.cites)
    assert any(H in c and DST in c for c in past.not_ruled_out)
    # the destination's logs are D's (the failed move's request): they still count
    assert "servercert.pem has expired" in past.facts["reason"]
    # logs read on another host than D are not D's evidence
    elsewhere = replace(dest_logs(EXPIRED), host=H)
    other = run(records=records(target_host=H), probe=h_probe(connect_ok=True),
                source_logs=src_logs(URI_FAIL), dest_logs=elsewhere)  # fmt: skip
    assert_concludes(other)
    assert "peer's certificate" in other.facts["reason"]
    unprobed = run(records=records(target_host=H), **logs)
    assert_concludes(unprobed)
    assert unprobed.facts["dest_host"] == DST
    same = run(records=records(target_host=DST), **logs)
    assert_concludes(same)
    assert "servercert.pem has expired" in same.facts["reason"]


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.outcome(ID, "ruled_out")
def test_only_the_target_hosts_probe_speaks_of_the_target():
    """--target-host H whose own probe fails: the finding is about H, cites only H's
    probe, never the past move's log lines about D; healthy H and no logged failure
    rules out."""
    logs = {"source_logs": src_logs(URI_FAIL)}
    on_h = run(
        records=records(target_host=H), probe=h_probe(connect_ok=False, port_open=False),
        dest_units=units(DestHostServices), **logs,
    )  # fmt: skip
    assert_concludes(on_h)
    assert on_h.facts["dest_host"] == H
    assert on_h.cites
    assert all(DST not in c.source + c.text for c in on_h.cites)
    healthy = run(records=records(target_host=H), probe=h_probe(connect_ok=True))
    assert_rules_out(healthy)
