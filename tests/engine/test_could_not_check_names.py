""" "could not check" lines name the evidence as the operator knows it, with its host,
never an internal type name (was: "could not check SourceHostLogs: …")."""

from __future__ import annotations

import re

import pytest

from diagnostics.evidence.types import EVIDENCE_TYPES, Unavailable
from diagnostics.model import CheckResult, RootCauseId, Skipped
from diagnostics.steps import could_not_check

SRC, DST, FAILED = "cmp-a-01", "cmp-b-07", "cmp-b-02"
# the CamelCase names (Placement or Server could be plain words)
_TYPE_NAMES = re.compile(
    "|".join(
        rf"\b{t.__name__}\b"
        for t in EVIDENCE_TYPES
        if re.search("[a-z][A-Z]", t.__name__)
    )
)


@pytest.mark.parametrize("kind", EVIDENCE_TYPES, ids=lambda t: t.__name__)
def test_unavailable_evidence_is_named_in_operator_words(kind):
    """Every evidence type that could not be collected gets a name, not its class."""
    (line,) = could_not_check(
        [kind], {kind: Unavailable(reason="SSH connection refused")}, [],
        hosts=(SRC, DST), failed_dest=FAILED,
    )  # fmt: skip
    assert line.startswith("could not check ")
    assert line.endswith(": SSH connection refused")
    assert not _TYPE_NAMES.search(line), line
    assert not line.startswith(f"could not check {kind.__name__}:"), line


@pytest.mark.parametrize(
    ("kind_name", "expected"),
    [
        ("SourceHostLogs", f"source host logs on {SRC}"),
        # the destination's logs are read where the failed move went
        ("DestHostLogs", f"destination host logs on {FAILED}"),
        ("DestHostServices", f"the services on {DST}"),
        ("LibvirtTlsProbe", f"the libvirt TLS connection {SRC} → {DST}"),
        ("ColdMigrationSshProbe", f"SSH {SRC} → {DST}"),
        ("DestCpu", f"the CPU of {DST}"),
    ],
)
def test_host_scoped_evidence_names_its_host(kind_name, expected):
    """A host's evidence says which host it would have come from."""
    kind = next(t for t in EVIDENCE_TYPES if t.__name__ == kind_name)
    (line,) = could_not_check(
        [kind], {kind: Unavailable(reason="why")}, [], hosts=(SRC, DST),
        failed_dest=FAILED,
    )  # fmt: skip
    assert line == f"could not check {expected}: why"


def test_a_check_skipped_for_missing_evidence_names_it_too():
    """A check skipped for lack of evidence says what it needed in the same words."""
    skipped = CheckResult(
        check_id="nova.x", title="Some check", step=8, root_cause=RootCauseId.UNKNOWN,
        outcome=Skipped(reason="needs SourceHostLogs (sudo refused on cmp-a-01)",
                        missing=("SourceHostLogs (sudo refused on cmp-a-01)",)),
    )  # fmt: skip
    (line,) = could_not_check([], {}, [skipped], hosts=(SRC, DST))
    assert line == (
        f"Some check: could not check (needs source host logs on {SRC} "
        f"(sudo refused on {SRC}))"
    )


def test_without_known_hosts_the_names_stay_readable():
    """No host known (the VM has none yet): the name says which side, not a blank."""
    kind = next(t for t in EVIDENCE_TYPES if t.__name__ == "SourceHostLogs")
    (line,) = could_not_check([kind], {kind: Unavailable(reason="why")}, [])
    assert line == "could not check source host logs on the source host: why"
