"""libvirt.cpu-incompatible: the destination CPU cannot run the guest CPU."""

from __future__ import annotations

from dataclasses import replace

import pytest

from diagnostics.checks.cpu_incompatible import cpu_incompatible
from diagnostics.model import (
    Confidence,
    CouldNotCheck,
    Inconclusive,
)
from tests.checks.conftest import (
    DST,
    SRC,
    actions,
    cpus,
    event,
    placement,
    provider,
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

ID = "libvirt.cpu-incompatible"
UNACCEPTABLE = (
    "Migration pre-check error: Unacceptable CPU info: CPU doesn't have compatibility.\n\n"
    "0\n\nRefer to http://libvirt.org/html/libvirt-libvirt-host.html#virCPUCompareResult"
)


def run(**kw):
    base = {"server": server(), "records": records(), "source_cpu": None, "dest_cpu": None,
                "placement": None, "actions": None, "source_logs": None, "dest_logs": None, "mgmt": None}  # fmt: skip
    return outcome_of(cpu_incompatible, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_flag_difference():
    """'Unacceptable CPU info' plus flags missing on the destination is confirmed."""
    src, dst = cpus(dest_flags="fpu avx2")
    acts = actions(event("compute_check_can_live_migrate_destination", UNACCEPTABLE))
    outcome = run(source_cpu=src, dest_cpu=dst, actions=acts)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["missing"] == "avx512f"
    assert DST in text


@pytest.mark.outcome(ID, "concluded")
def test_missing_features_from_libvirt_and_placement_traits():
    """libvirt's missing-features list with a trait gap in Placement is confirmed."""
    logs = src_logs("Live Migration failure: operation failed: guest CPU doesn't match "
                    "specification: missing features: avx512f,avx512vl")  # fmt: skip
    pl = placement(provider(f"{SRC}.example", traits=frozenset({"HW_CPU_X86_AVX512F"})),
                   provider(f"{DST}.example", traits=frozenset()))  # fmt: skip
    outcome = run(source_logs=logs, placement=pl)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["missing"] == "HW_CPU_X86_AVX512F"


@pytest.mark.outcome(ID, "concluded")
def test_log_alone_is_likely_and_lists_libvirt_features():
    """Only the libvirt line: likely, with the features it names."""
    logs = src_logs("the CPU is incompatible with host CPU: Host CPU does not provide "
                    "required features: avx512f")  # fmt: skip
    outcome = run(source_logs=logs, records=None)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert outcome.facts["missing"] == "avx512f"


@pytest.mark.outcome(ID, "concluded")
def test_flag_gap_alone_is_possible():
    """A flag gap without any CPU error is circumstantial."""
    src, dst = cpus(dest_flags="fpu avx2")
    outcome = run(source_cpu=src, dest_cpu=dst)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"source_cpu": cpus()[0], "dest_cpu": cpus()[1]}, id="same-flags"),
        pytest.param({"source_cpu": cpus()[0], "dest_cpu": cpus()[1],
                      "source_logs": src_logs("Live Migration failure: operation failed: "
                      "Failed to connect to remote libvirt URI qemu+tls://cmp-b-01/system")},
                     id="tls-failure-not-cpu"),
    ],
)  # fmt: skip
def test_ruled_out(kw):
    """Identical CPUs, or an unrelated failure, rule it out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_cpu_data_or_text():
    """No lscpu, no Placement and no failure text is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "missing_evidence")
def test_logs_without_cpu_data_could_not_check_the_flags():
    """A failure text with no CPU error but no lscpu or traits: never 'no missing flags'."""
    outcome = run(source_logs=src_logs("Live Migration failure: operation failed: "
                                       "Failed to connect to remote libvirt URI"))  # fmt: skip
    assert_missing_evidence(outcome, CouldNotCheck)


H = "cmp-b-09"


@pytest.mark.outcome(ID, "concluded")
def test_the_past_cpu_refusal_stays_on_its_destination_with_another_target():
    """--target-host H with the source's CPU: "Unacceptable CPU info" of the past move
    is about D (with D's traits), never "the CPU of H cannot run the guest"."""
    src, _ = cpus()
    h_cpu = replace(cpus()[1], host=H, provenance=f"{H}$ lscpu")
    pl = placement(provider(f"{SRC}.example", traits=frozenset({"HW_CPU_X86_AVX512F"})),
                   provider(f"{DST}.example", traits=frozenset()),
                   provider(H, traits=frozenset({"HW_CPU_X86_AVX512F"})))  # fmt: skip
    acts = actions(event("compute_check_can_live_migrate_destination", UNACCEPTABLE))
    outcome = run(records=records(target_host=H), source_cpu=src, dest_cpu=h_cpu,
                  placement=pl, actions=acts)  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST
    assert outcome.confidence is Confidence.CONFIRMED  # Nova's refusal and D's traits
    assert H not in rendered(ID, outcome)


@pytest.mark.outcome(ID, "concluded")
def test_a_target_host_lacking_flags_is_said_from_its_lscpu_alone():
    """--target-host H missing a source flag: about H, possible (a gap alone), without
    the past move's refusal text about D as its evidence."""
    src, _ = cpus()
    h_cpu = replace(cpus(dest_flags="fpu avx2")[1], host=H)
    acts = actions(event("compute_check_can_live_migrate_destination", UNACCEPTABLE))
    outcome = run(records=records(target_host=H), source_cpu=src, dest_cpu=h_cpu,
                  actions=acts)  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == H
    assert outcome.confidence is Confidence.POSSIBLE
    assert outcome.cites == ()
