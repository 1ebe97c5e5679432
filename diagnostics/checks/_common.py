"""Helpers shared by checks: where the failure text is, and which move is being diagnosed.

Pure functions over evidence values; no I/O. ``gather`` puts every place a failure message
can appear (failed events' details and tracebacks, the server fault, host and
management-plane log lines) behind one search, each text keeping its citation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from diagnostics import remedies as r
from diagnostics.evidence.types import (
    DestHostLogs,
    InstanceActions,
    LogLines,
    ManagementPlane,
    MigrationRecord,
    MigrationRecords,
    Placement,
    ProviderView,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    FAILED_MIGRATION_STATUSES,
    IN_PROGRESS_MIGRATION_STATUSES,
    Citation,
    MigrationKind,
)
from diagnostics.remedies import RemedyTemplate
from diagnostics.signatures import failure_texts

_CITE_MAX = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """A pattern found in one text; ``origin`` says which kind of source held it."""

    match: re.Match[str]
    cite: Citation
    origin: str  # event / fault / source-log / dest-log / mgmt-log

    def get(self, group: str, default: str = "") -> str:
        value = self.match.groupdict().get(group)
        return value if value is not None else default


@dataclass(frozen=True, slots=True, kw_only=True)
class _Text:
    origin: str
    source: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Texts:
    """Every failure text available to a check; ``available`` is False when none was."""

    items: tuple[_Text, ...]
    available: bool

    def find_all(self, pattern: re.Pattern[str], *origins: str) -> Iterator[Hit]:
        for item in self.items:
            if origins and item.origin not in origins:
                continue
            m = pattern.search(item.text)
            if m:
                yield Hit(match=m, cite=_cite(item, m), origin=item.origin)

    def find(
        self, *patterns: re.Pattern[str], origins: tuple[str, ...] = ()
    ) -> Hit | None:
        """The first hit of the first pattern that matches anywhere (patterns in priority)."""
        for pattern in patterns:
            hit = next(self.find_all(pattern, *origins), None)
            if hit is not None:
                return hit
        return None


def _cite(item: _Text, m: re.Match[str]) -> Citation:
    # cite the line holding the match, not a whole traceback
    start = item.text.rfind("\n", 0, m.start()) + 1
    end = item.text.find("\n", m.end())
    line = item.text[start : end if end != -1 else len(item.text)].strip()
    return Citation(source=item.source, text=line[:_CITE_MAX])


def _log_items(logs: LogLines | None, origin: str) -> Iterator[_Text]:
    for line in logs.lines if logs is not None else ():
        yield _Text(origin=origin, source=line.source, text=line.text)


def gather(
    *,
    actions: InstanceActions | None = None,
    server: Server | None = None,
    source_logs: SourceHostLogs | None = None,
    dest_logs: DestHostLogs | None = None,
    mgmt: ManagementPlane | None = None,
) -> Texts:
    """Collect the failure texts of the evidence given (None means not available)."""
    items = [
        _Text(origin=t.origin, source=t.source, text=t.text)
        for t in failure_texts(actions, server)
        if t.part != "result"  # "Error" alone is no failure text to search
    ]
    items += _log_items(source_logs, "source-log")
    items += _log_items(dest_logs, "dest-log")
    items += _log_items(mgmt.logs if mgmt is not None else None, "mgmt-log")
    present = (actions, server, source_logs, dest_logs, mgmt)
    # a Server without a fault is no failure text: Nova hides it unless status is ERROR
    available = any(e is not None for e in present if e is not server) or bool(items)
    return Texts(items=tuple(items), available=available)


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """The move under diagnosis, as far as the evidence tells.

    ``dest`` is the host the Dest* evidence was collected from: the operator's
    ``--target-host`` when given, else where the move went. ``failed_dest`` is where the
    recorded move went (None: never scheduled).
    """

    kind: str | None
    status: str | None
    source: str | None
    dest: str | None
    record: MigrationRecord | None
    failed_dest: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_MIGRATION_STATUSES

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS_MIGRATION_STATUSES

    @property
    def retargeted(self) -> bool:
        """``--target-host`` names another host than the one the move failed on.

        Then the Dest* evidence (its logs, units, probes, leftovers, CPU) is the
        target's and says nothing about the past failure, and the past failure's texts
        (events, fault, source and management-plane logs) say nothing about the target:
        a check explains the failure on ``failed_dest`` from the texts and the API, and
        speaks of ``dest`` only from the target's own evidence.
        """
        return bool(self.dest and self.failed_dest and self.dest != self.failed_dest)

    @property
    def failed_at(self) -> str | None:
        """The host the past failure is about: its recorded destination, else ``dest``."""
        return self.failed_dest or self.dest


def on_host(logs: DestHostLogs | None, host: str | None) -> DestHostLogs | None:
    """The destination's log lines if they were read on ``host``, else None.

    They are always the failed move's destination's (its request id, its window):
    with ``--target-host`` they explain the past failure, never the target.
    """
    return logs if logs is not None and host is not None and logs.host == host else None


def probes_went_to(move: Move) -> str:
    """The caveat of a past-failure finding whose host was not probed (--target-host)."""
    return (
        f"a cause on {move.failed_at} that only its own probes would show (they ran "
        f"against {move.dest}, the --target-host)"
    )


def move_of(records: MigrationRecords | None, server: Server | None) -> Move:
    """The newest migration record, with the operator's target host and kind hint on top."""
    record = records.records[0] if records is not None and records.records else None
    target = records.target_host if records is not None else None
    hint = records.kind_hint if records is not None else None
    return Move(
        kind=hint or (record.kind if record else None),
        status=record.status if record else None,
        source=(record.source_compute if record else None)
        or (server.host if server else None),
        dest=target or (record.dest_compute if record else None),
        record=record,
        failed_dest=record.dest_compute if record else None,
    )


def move_word(kind: str | None) -> str:
    """The ``move`` fact that picks the retry command: live, cold or evacuation."""
    if kind == MigrationKind.EVACUATION:
        return "evacuation"
    if kind in (MigrationKind.COLD, MigrationKind.RESIZE):
        return "cold"
    return "live"


def retry_remedies(
    why: str, host_fact: str | None = "dest_host"
) -> tuple[RemedyTemplate, ...]:
    """The fix that retries this kind of move (towards ``{host_fact}`` when given).

    The facts need ``move`` (``move_word``), ``server_id`` and the host fact; without
    the host fact the step is left out rather than retried elsewhere.
    """
    host = f" --host {{{host_fact}}}" if host_fact else ""
    return (
        r.fix(r.CLI, f"openstack server migrate --live-migration{host} {{server_id}}",
              why, when="move=live"),
        r.fix(r.CLI, f"openstack server migrate{host} {{server_id}}", why, when="move=cold"),
        r.fix(r.CLI, f"openstack server evacuate{host} {{server_id}}", why,
              when="move=evacuation"),
    )  # fmt: skip


def cites(*hits: Hit | None) -> tuple[Citation, ...]:
    """Citations of the hits present, without duplicates, in order."""
    out: list[Citation] = []
    for hit in hits:
        if hit is not None and hit.cite not in out:
            out.append(hit.cite)
    return tuple(out)


def provider_for(placement: Placement | None, host: str | None) -> ProviderView | None:
    """The host's compute-node provider (named after hypervisor_hostname, often an FQDN)."""
    if placement is None or host is None:
        return None
    exact = placement.providers.get(host)
    if exact is not None:
        return exact
    short = host.split(".")[0]
    return next(
        (p for name, p in placement.providers.items() if name.split(".")[0] == short),
        None,
    )
