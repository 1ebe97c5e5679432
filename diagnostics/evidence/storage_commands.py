"""The read-only commands run on storage nodes (docs/host-commands.md) and their parsers.

Storage nodes are the hosts running cinder-volume for the VM's volumes (PCD's "Block
Storage" / persistent-storage role, unit ``pf9-cindervolume-base``). The same rules as for
hypervisors hold: every external value is one quoted argument (``HostCommand``), patterns
go after ``-e``, files after ``--``, and the output is capped on the host.

The log grep runs *without* ``-s``: a file grep cannot read says so on stderr
(``grep: <path>: Permission denied``), which must become "could not check", never
"nothing logged". A missing file is normal (PCD and upstream Cinder log to different
paths; both are searched) and is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from diagnostics.evidence.host_commands import HostCommand

_GREP_ERROR = re.compile(r"^grep: (?P<path>.+): (?P<why>[^:]+)$")
_MISSING = "No such file or directory"


def backend_of(host_attr: str | None) -> tuple[str, str] | None:
    """``storage-01@lvm#LVM`` -> (``storage-01@lvm``, ``storage-01``); None when empty.

    Cinder writes ``host@backend#pool`` (``volume_utils.extract_host``); os-services lists
    cinder-volume as ``host@backend``; the part before ``@`` is the node itself.
    """
    text = (host_attr or "").strip()
    if not text:
        return None
    backend = text.partition("#")[0]
    node = backend.partition("@")[0]
    return (backend, node) if node else None


def grep_cinder_log(
    patterns: Iterable[str], files: Sequence[str], match_cap: int, byte_cap: int
) -> HostCommand:
    """grep the cinder-volume logs for fixed strings (request ids, volume ids).

    Empty patterns and patterns holding a newline are dropped, as for the hypervisor
    grep: grep would split such a pattern and an empty one matches every line.
    """
    wanted = [
        p for p in dict.fromkeys(patterns) if p and "\n" not in p and "\r" not in p
    ]
    args: list[str] = ["grep", "-a", "-H", "-n", "-F", "-m", str(match_cap)]
    for pattern in wanted:
        args += ["-e", pattern]
    return HostCommand((*args, "--", *files), byte_cap=byte_cap)


@dataclass(frozen=True, slots=True)
class GrepProblems:
    """What grep said about the files it could not search."""

    unreadable: tuple[str, ...]  # "<path>: Permission denied"
    missing: tuple[str, ...]  # paths that do not exist on this node


def parse_grep_errors(stderr: str) -> GrepProblems:
    """``grep: <path>: <reason>`` lines; anything else on stderr is ignored."""
    unreadable: list[str] = []
    missing: list[str] = []
    for raw in stderr.splitlines():
        m = _GREP_ERROR.match(raw.strip())
        if m is None:
            continue
        if m["why"].strip() == _MISSING:
            missing.append(m["path"])
        else:
            unreadable.append(f"{m['path']}: {m['why'].strip()}")
    return GrepProblems(tuple(unreadable), tuple(missing))
