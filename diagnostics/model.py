"""Frozen value types of a diagnosis: the only data that crosses from engine to renderers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from diagnostics.request_graph import Timing


class MigrationKind(StrEnum):
    """Nova's own ``migration_type`` values (nova/objects/migration.py)."""

    LIVE = "live-migration"
    COLD = "migration"
    EVACUATION = "evacuation"
    RESIZE = "resize"


ALL_KINDS = frozenset(MigrationKind)


class RootCauseId(StrEnum):
    """The public root-cause ids of shared/root-causes.md. Never rename one."""

    LIBVIRT_TLS = "libvirt_tls"
    MIGRATION_TIMEOUT = "migration_timeout"
    AZ_AGGREGATE_MISMATCH = "az_aggregate_mismatch"
    NO_VALID_HOST = "no_valid_host"
    CPU_INCOMPATIBLE = "cpu_incompatible"
    INSUFFICIENT_RESOURCES = "insufficient_resources"
    STORAGE_VOLUME = "storage_volume"
    PORT_BINDING = "port_binding"
    COMPUTE_SERVICE_DOWN = "compute_service_down"
    EVACUATION_SOURCE_UP = "evacuation_source_up"
    INVALID_VM_STATE = "invalid_vm_state"
    COLD_MIGRATION_SSH = "cold_migration_ssh"
    UNSUPPORTED_DEVICE = "unsupported_device"
    STALE_LEFTOVERS = "stale_leftovers"
    UNKNOWN = "unknown"


class Confidence(StrEnum):
    CONFIRMED = "confirmed"  # a probe reproduced it, or two independent sources agree
    LIKELY = "likely"  # one source of evidence
    POSSIBLE = "possible"  # circumstantial


class Severity(StrEnum):
    """ERROR: a cause of this failure. WARNING: will hurt the next attempt. INFO: context."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class StepStatus(StrEnum):
    """What a step's facts say: ``passed`` only when nothing abnormal was seen.

    ``warning``: something abnormal that did not (provably) fail this move. ``failed``: the
    step holds the failure or its cause. ``error``: the step could not check (evidence
    missing, a probe failed for its own reasons). ``skipped``: nothing to check here.
    """

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"
    ERROR = "error"


class StepRole(StrEnum):
    """Which part of the story a step tells, once the verdict is known."""

    SYMPTOM = "symptom"  # where the failure shows (step 1: the migration record, fault)
    CAUSE = "cause"  # the step whose check found the primary root cause


class Conclusion(StrEnum):
    """The kind of answer a diagnosis gives; the CLI's exit status follows it."""

    NO_FAILURE = "no_failure"  # no failed migration, and the steps that matter ran
    ROOT_CAUSE = "root_cause"  # a catalogued cause was found
    INCONCLUSIVE = "inconclusive"  # unknown cause, or steps that matter could not run


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """One line of evidence and where it came from.

    ``source`` is the provenance: an API call with its request id
    (``GET /os-migrations?instance_uuid=… [req-…]``), a log position
    (``cmp-a-01:/var/log/pf9/ostackhost.log:1234``) or a command (``cmp-a-01$ virsh …``).
    """

    source: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationRef:
    """What the user asked about: a VM (name or uuid), optionally one migration and a target."""

    server: str
    migration_id: str | None = None
    target_host: str | None = None
    # what the operator tried when Nova refused before recording a migration (e.g. an
    # evacuation rejected with 400): None means "take it from the migration record"
    kind: MigrationKind | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VmSummary:
    id: str
    name: str
    status: str
    host: str | None


# migration statuses of a move that did not complete: the conductor's pre-check or
# scheduling error, a rollback, an abort or timeout (failure-signatures §1)
FAILED_MIGRATION_STATUSES: tuple[str, ...] = ("error", "failed", "cancelled")
# statuses of a move still under way (nova/objects/migration.py; live: queued, preparing,
# running, running (post-copy); cold and resize: pre-migrating, migrating; evacuation:
# rebuilding; any kind: accepted, post-migrating)
IN_PROGRESS_MIGRATION_STATUSES: tuple[str, ...] = (
    "accepted", "queued", "preparing", "running", "running (post-copy)",
    "pre-migrating", "migrating", "post-migrating", "rebuilding",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationSummary:
    """The migration being diagnosed, as the JSON contract's ``migration`` object."""

    id: str | None
    uuid: str | None
    kind: MigrationKind
    block_migration: bool | None
    status: str | None
    source_host: str | None
    dest_host: str | None
    request_id: str | None
    started_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_MIGRATION_STATUSES

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS_MIGRATION_STATUSES


# ---- check outcomes: a closed set ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Concluded:
    """The check's condition holds. ``facts`` fill the summary/remediation templates.

    A conclusion drawn from a symptom (connection refused, NoValidHost, a timeout) names
    the rival explanations it could not rule out (``not_ruled_out``, shown as caveats) and
    the root causes that, when also found, explain it (``explained_by``): then the deeper
    cause is primary and this one is listed as its consequence.
    """

    facts: Mapping[str, str] = field(default_factory=dict)
    cites: tuple[Citation, ...] = ()
    confidence: Confidence = Confidence.LIKELY
    explained_by: frozenset[RootCauseId] = frozenset()
    not_ruled_out: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RuledOut:
    """The check looked at its evidence and the condition does not hold."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Inconclusive:
    """The check looked but its evidence neither proves nor excludes the condition."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CouldNotCheck:
    """The check's probe or evidence failed for the bot's own reasons (no permission, sudo
    refused, a name that does not resolve): never a conclusion about the cloud.

    ``why`` says what went wrong, ``needs`` the access that would let it check.
    """

    why: str
    needs: str = ""

    @property
    def reason(self) -> str:
        return f"could not check: {self.why}" + (
            f"; needs {self.needs}" if self.needs else ""
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """Engine-assigned: the check did not run (not applicable, or evidence missing)."""

    reason: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Errored:
    """Engine-assigned: the check raised. Never mistaken for a pass."""

    error: str


Outcome = Concluded | RuledOut | Inconclusive | CouldNotCheck | Skipped | Errored
# what a check function may return
CheckOutcome = Concluded | RuledOut | Inconclusive | CouldNotCheck


# ---- remediation: what the operator runs, where, and why ----------------------------------


class RemedyKind(StrEnum):
    """FIX changes something to remove the cause; CHECK only reads (before or after a fix)."""

    FIX = "fix"
    CHECK = "check"


class Place(StrEnum):
    """Where a command runs."""

    HOST = "host"  # a shell on the named hypervisor
    OPENSTACK_CLI = "openstack"  # any machine with the region's clouds.yaml
    POD = "pod"  # a container of the named management-plane deployment (self-hosted)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunsOn:
    """``place`` plus the host or deployment name (None for the OpenStack CLI)."""

    place: Place
    name: str | None = None

    @property
    def contract_name(self) -> str:
        """``on`` in the JSON contract: the host or pod name, or ``openstack``."""
        return self.name if self.name is not None else self.place.value

    @property
    def label(self) -> str:
        """Where, in words: ``on host cmp-a-02``, ``with the openstack CLI``, ``in a … pod``."""
        if self.place is Place.OPENSTACK_CLI:
            return "with the openstack CLI"
        if self.place is Place.POD:
            return f"in a {self.name} pod of the region namespace"
        return f"on host {self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Remedy:
    """One step of a remediation: ``command`` runs exactly as written at ``on``.

    Fixes come first; a check needed to do a fix safely (a fingerprint, a journal)
    stands right before it. ``command`` holds no prose and every value in it is
    validated or shell-quoted; ``why`` is one plain sentence. A step that is not a
    command (an instruction for a person) has ``command`` None and says it in ``why``.
    """

    kind: RemedyKind
    on: RunsOn
    command: str | None
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A concluded check rendered for people: root cause id, confidence, evidence, fix."""

    root_cause: RootCauseId
    check_id: str
    title: str
    confidence: Confidence
    severity: Severity
    summary: str
    evidence: tuple[Citation, ...] = ()
    remediation: tuple[Remedy, ...] = ()
    references: tuple[str, ...] = ()
    # rivals the check could see but not rule out ("libvirtd state on cmp-a-02 unknown")
    caveats: tuple[str, ...] = ()
    # causal links between findings: the deeper cause explains its consequences
    explains: tuple[RootCauseId, ...] = ()
    consequence_of: RootCauseId | None = None
    # the host the finding is about (its destination or failing host; None: the VM or
    # the region): with --target-host, a finding about the failed move's destination
    # explains that failure and says nothing against the target
    about_host: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    check_id: str
    title: str
    step: int
    root_cause: RootCauseId
    outcome: Outcome
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """One step of the runbook's procedure (numbered 1–8 as the seed runbook)."""

    number: int
    title: str
    status: StepStatus
    summary: str
    findings: tuple[str, ...] = ()
    duration_ms: int = 0
    role: StepRole | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """Everything one diagnosis found. Pure data; no presentation fields."""

    id: str
    vm: VmSummary
    migration: MigrationSummary | None
    steps: tuple[StepResult, ...]
    root_cause: Finding | None  # None: no failed migration and nothing wrong found
    other_findings: tuple[Finding, ...]
    checks: tuple[CheckResult, ...]
    started_at: datetime
    duration_ms: int
    mode: str = "self-hosted"
    target_host: str | None = None
    # the request graph: what waited on what, and for how long
    timing: Timing = field(default_factory=Timing)
    conclusion: Conclusion = Conclusion.NO_FAILURE
    # "step 7: could not check: …" for every step or check that lacked its evidence
    could_not_check: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()  # what to try when inconclusive (e.g. --kind …)

    @property
    def verdict(self) -> str:
        if self.root_cause is not None:
            return self.root_cause.root_cause.value
        return (
            "inconclusive" if self.conclusion is Conclusion.INCONCLUSIVE else "healthy"
        )


# ---- progress events the engine emits while it works ---------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisStarted:
    diagnosis_id: str
    vm: VmSummary
    migration: MigrationSummary | None
    steps: tuple[tuple[int, str], ...]  # (number, title) of every step that will report


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished:
    diagnosis_id: str
    step: StepResult


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisFinished:
    diagnosis: Diagnosis


ProgressEvent = DiagnosisStarted | StepFinished | DiagnosisFinished


class DiagnosticsError(Exception):
    """Base of the errors the diagnostics raise to their callers."""


class ConfigError(DiagnosticsError):
    """Configuration that does not load; the message names the file and key."""


class InvalidRequest(DiagnosticsError):
    """What the operator asked about does not exist or is malformed (CLI exit 2, Slack's
    ephemeral reply); raised before anything is collected or posted."""


class VmNotFound(InvalidRequest):
    """No server matches the name or id."""


class UnknownHost(InvalidRequest):
    """``--target-host`` names no compute host Nova knows (or is not a host name at all)."""


class UnknownMigration(InvalidRequest):
    """``--migration`` names no migration of this VM."""


class AmbiguousVm(InvalidRequest):
    """Several servers share the name; ``candidates`` lists (id, name, status, host)."""

    def __init__(
        self, name: str, candidates: list[tuple[str, str, str, str | None]]
    ) -> None:
        super().__init__(f"{len(candidates)} servers are named {name!r}; give the id")
        self.name = name
        self.candidates = candidates


class CloudUnreachable(DiagnosticsError):
    """The cloud's endpoint (Keystone or a service) could not be reached; says which and why."""
