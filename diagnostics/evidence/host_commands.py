"""The read-only commands run on hypervisors (docs/host-commands.md) and their parsers.

Builders are pure: they return a :class:`HostCommand` whose ``argv`` holds every external
value (host names, request ids, VM uuids, instance names, configured paths) as ONE
argument; :attr:`HostCommand.line` joins it with ``shlex.quote`` so nothing a user typed
can become shell code or an option (patterns go after ``-e``, files after ``--``).

Parsers are pure and total: any input (truncated, garbage, another tool's error text)
yields a value, never an exception.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from diagnostics.evidence.types import CertificateInfo

TLS_PORT = 16514
SIGNATURE_MATCH_CAP = 200
SIGNATURE_BYTE_CAP = 262_144
COUNT_BYTE_CAP = 65_536  # `grep -c`: one short line per file
# libvirtd logs no request id: search it for the TLS failure signatures instead
LIBVIRTD_SIGNATURES = (
    r"Certificate check failed|certificate .* (has expired|is not yet active)"
    r"|owner does not match the hostname"
)


@dataclass(frozen=True, slots=True)
class HostCommand:
    """One command: ``argv`` run as a single quoted command line, optionally byte-capped."""

    argv: tuple[str, ...]
    byte_cap: int | None = (
        None  # appends `| head -c N`: a huge log never crosses the wire
    )

    @property
    def line(self) -> str:
        joined = shlex.join(self.argv)
        return f"{joined} | head -c {int(self.byte_cap)}" if self.byte_cap else joined


# ---- builders -----------------------------------------------------------------------------


def systemctl_is_active(units: Sequence[str]) -> HostCommand:
    return HostCommand(("systemctl", "is-active", "--", *units))


def lscpu() -> HostCommand:
    return HostCommand(("lscpu",))


def df(path: str) -> HostCommand:
    return HostCommand(("df", "-P", "-B1", "--", path))


def date_utc() -> HostCommand:
    return HostCommand(("date", "-u", "+%Y-%m-%dT%H:%M:%SZ"))


def openssl_x509(path: str) -> HostCommand:
    return HostCommand(
        (
            "openssl", "x509", "-noout", "-subject", "-issuer", "-startdate", "-enddate",
            "-ext", "subjectAltName", "-in", path,
        )
    )  # fmt: skip


def virsh_tls_version(dest: str, timeout_s: int = 15) -> HostCommand:
    uri = f"qemu+tls://{dest}/system"
    return HostCommand(("timeout", str(timeout_s), "virsh", "-r", "-c", uri, "version"))


def nc_port(dest: str, port: int = TLS_PORT) -> HostCommand:
    return HostCommand(("nc", "-z", "-w", "3", "--", dest, str(port)))


def ssh_trust(user: str, dest: str) -> HostCommand:
    return HostCommand(
        (
            "sudo", "-n", "-u", user, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "--", dest, "true",
        )
    )  # fmt: skip


def iscsiadm_session() -> HostCommand:
    return HostCommand(("iscsiadm", "-m", "session"))


def multipath_ll() -> HostCommand:
    return HostCommand(("multipath", "-ll"))


def virsh_list_all() -> HostCommand:
    return HostCommand(("virsh", "-r", "list", "--all", "--name"))


def test_dir(path: str) -> HostCommand:
    # no `--`: with two arguments test(1) takes the second as the operand, whatever it
    # looks like, and bash's `test -d -- X` is an error ("--: binary operator expected")
    return HostCommand(("test", "-d", path))


def grep_fixed(
    patterns: Iterable[str], files: Sequence[str], match_cap: int, byte_cap: int
) -> HostCommand:
    """grep for fixed strings (request id, VM uuid); empty patterns are dropped.

    A pattern holding a newline is dropped too: grep would split it into several patterns
    (one of them possibly empty, matching every line), and no log line can contain one.
    """
    wanted = [
        p for p in dict.fromkeys(patterns) if p and "\n" not in p and "\r" not in p
    ]
    # no -s: a file the diagnosis user cannot read must say so ("Permission denied"),
    # never look like a log without matches (parse_grep_errors reads the messages)
    args: list[str] = ["grep", "-a", "-H", "-n", "-F", "-m", str(match_cap)]
    for pattern in wanted:
        args += ["-e", pattern]
    return HostCommand((*args, "--", *files), byte_cap=byte_cap)


def grep_signatures(
    regex: str,
    files: Sequence[str],
    match_cap: int = SIGNATURE_MATCH_CAP,
    byte_cap: int = SIGNATURE_BYTE_CAP,
) -> HostCommand:
    argv = ("grep", "-a", "-H", "-n", "-E", "-m", str(match_cap), "-e", regex)
    return HostCommand((*argv, "--", *files), byte_cap=byte_cap)


def grep_count(search: HostCommand) -> HostCommand:
    """The same search as ``search`` (a grep_fixed / grep_signatures), counting per file.

    Run only when the search hit a cap, to say how many lines matched in all: ``grep -c``
    reads the files on the host and sends one ``path:count`` line per file.
    """
    argv = list(search.argv)
    at = argv.index("-m")
    del argv[at : at + 2]  # no match cap: count them all
    argv.remove("-n")
    argv.insert(1, "-c")
    return HostCommand(tuple(argv), byte_cap=COUNT_BYTE_CAP)


# ---- parsers ------------------------------------------------------------------------------


def parse_is_active(units: Sequence[str], stdout: str) -> dict[str, str]:
    """One word per unit, in order; units without an answer are ``unknown``."""
    words = [w.strip() for w in stdout.splitlines() if w.strip()]
    return {
        unit: (words[i] if i < len(words) else "unknown")
        for i, unit in enumerate(units)
    }


@dataclass(frozen=True, slots=True)
class Lscpu:
    model: str
    vendor: str
    flags: frozenset[str]
    arch: str = ""


def parse_lscpu(stdout: str) -> Lscpu:
    fields: dict[str, str] = {}
    for raw in stdout.splitlines():
        key, sep, value = raw.partition(":")
        if sep and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return Lscpu(
        model=fields.get("Model name", ""),
        vendor=fields.get("Vendor ID", ""),
        flags=frozenset(fields.get("Flags", "").split()),
        arch=fields.get("Architecture", ""),
    )


@dataclass(frozen=True, slots=True)
class DfRow:
    size_bytes: int
    available_bytes: int
    mount: str


_DF_COLUMNS = 6
_MAX_DIGITS = 30


def _int(text: str) -> int | None:
    """A plain ASCII decimal, else None (never raises, not even on 10k digits)."""
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        return None
    return int(text)


def parse_df(stdout: str) -> DfRow | None:
    """POSIX ``df -P -B1``: header then one row (a long device name never wraps with -P)."""
    for raw in stdout.splitlines()[1:]:
        cols = raw.split()
        if len(cols) >= _DF_COLUMNS:
            size, available = _int(cols[1]), _int(cols[3])
            if size is not None and available is not None:
                return DfRow(size, available, " ".join(cols[5:]))
    return None


def parse_date(stdout: str) -> datetime | None:
    try:
        return datetime.strptime(stdout.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def _openssl_time(value: str) -> datetime | None:
    # "Nov 23 19:20:00 2026 GMT" (day may be space-padded: "Nov  3 ...")
    try:
        return datetime.strptime(
            " ".join(value.split()), "%b %d %H:%M:%S %Y %Z"
        ).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_x509(path: str, stdout: str) -> CertificateInfo | None:
    """``openssl x509 -noout -subject -issuer -startdate -enddate -ext subjectAltName``."""
    subject = issuer = ""
    not_before = not_after = None
    sans: list[str] = []
    lines = stdout.splitlines()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("subject="):
            subject = line.removeprefix("subject=").strip()
        elif line.startswith("issuer="):
            issuer = line.removeprefix("issuer=").strip()
        elif line.startswith("notBefore="):
            not_before = _openssl_time(line.removeprefix("notBefore="))
        elif line.startswith("notAfter="):
            not_after = _openssl_time(line.removeprefix("notAfter="))
        elif line.startswith("X509v3 Subject Alternative Name") and i + 1 < len(lines):
            sans = [s.strip() for s in lines[i + 1].split(",") if s.strip()]
    if not subject and not_after is None:
        return None
    return CertificateInfo(
        path=path,
        subject=subject,
        sans=tuple(sans),
        not_before=not_before,
        not_after=not_after,
        issuer=issuer,
    )


def subject_cn(subject: str) -> str | None:
    """``CN = cmp-b-01`` (OpenSSL 1.1+/3) or ``/C=US/CN=cmp-b-01`` (legacy) -> cmp-b-01."""
    m = re.search(r"CN\s*=\s*([^,/]+)", subject)
    return m.group(1).strip() if m else None


def parse_virsh_error(stdout: str, stderr: str) -> str:
    """The libvirt message of a failed ``virsh``; the generic first line is dropped."""
    errors = [
        line.strip().removeprefix("error:").strip()
        for line in stderr.splitlines()
        if line.strip().startswith("error:")
    ]
    specific = [e for e in errors if e != "failed to connect to the hypervisor"]
    if specific:
        return "; ".join(specific)
    return (stderr.strip() or stdout.strip())[:2000]


def parse_nc(exit_code: int, stderr: str) -> bool | None:
    """True open, False refused/timed out, None when nc could not tell (missing, usage)."""
    if exit_code == 0:
        return True
    text = stderr.lower()
    if any(
        k in text
        for k in ("refused", "timeout", "timed out", "no route", "unreachable")
    ):
        return False
    return None


_SSH_NOISE = re.compile(r"^(Warning: Permanently added|Pseudo-terminal will not)")


def parse_ssh_stderr(stderr: str) -> str:
    """ssh's error with the harmless warnings removed."""
    kept = [
        ln.strip()
        for ln in stderr.splitlines()
        if ln.strip() and not _SSH_NOISE.match(ln)
    ]
    return "\n".join(kept)


def parse_iscsi_sessions(stdout: str) -> tuple[str, ...]:
    """``tcp: [1] 10.0.0.50:3260,1 iqn... (non-flash)`` lines; none -> ()."""
    return tuple(
        ln.strip() for ln in stdout.splitlines() if re.match(r"^\s*\w+: \[\d+\]", ln)
    )


def parse_virsh_list(stdout: str) -> tuple[str, ...]:
    return tuple(ln.strip() for ln in stdout.splitlines() if ln.strip())


@dataclass(frozen=True, slots=True)
class GrepHit:
    path: str
    lineno: int
    text: str


_GREP_LINE = re.compile(r"^(?P<path>[^\n]*?):(?P<lineno>\d+):(?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class GrepErrors:
    """What grep said about the files it could not search (its stderr)."""

    unreadable: tuple[str, ...] = ()  # "<path>: Permission denied"
    missing: tuple[
        str, ...
    ] = ()  # files that do not exist (normal: not every log does)


def parse_grep_errors(stderr: str, files: Sequence[str] = ()) -> GrepErrors:
    """``grep: <path>: Permission denied`` / ``No such file or directory`` lines."""
    unreadable: list[str] = []
    missing: list[str] = []
    for raw in stderr.splitlines():
        if not raw.startswith("grep: "):
            continue
        body = raw[len("grep: ") :]
        path = next((f for f in files if body.startswith(f + ": ")), None)
        if path is None:
            path, _, _ = body.rpartition(": ")
        why = body[len(path) + 2 :].strip()
        if why == "Permission denied":
            unreadable.append(path)
        elif why == "No such file or directory":
            missing.append(path)
    return GrepErrors(
        unreadable=tuple(dict.fromkeys(unreadable)),
        missing=tuple(dict.fromkeys(missing)),
    )


def parse_grep(
    stdout: str, files: Sequence[str] = (), *, cut: bool = False
) -> list[GrepHit]:
    """``path:lineno:line`` output of ``grep -H -n``.

    Known ``files`` are matched as prefixes first (a path may contain ``:``). With ``cut``
    (the byte cap was reached) the last, probably partial, line is dropped.
    """
    return scan_grep(stdout, files, cut=cut).hits


@dataclass(frozen=True, slots=True)
class GrepScan:
    hits: list[GrepHit]  # at most ``per_file_cap`` per file
    seen: dict[str, int]  # path -> hit lines in the output, kept or only counted


def scan_grep(
    stdout: str,
    files: Sequence[str] = (),
    *,
    cut: bool = False,
    per_file_cap: int | None = None,
) -> GrepScan:
    """``parse_grep`` that keeps at most ``per_file_cap`` hits per file and counts the rest.

    Lines past a file's cap are counted without being built into objects: a host that
    ignores ``grep -m`` costs the bytes it sent, not a hit per line.
    """
    hits: list[GrepHit] = []
    seen: dict[str, int] = {}
    known = sorted(files, key=len, reverse=True)
    pos, size = 0, len(stdout)
    while pos < size:
        end = stdout.find("\n", pos)
        if end < 0:
            if cut:
                break  # the cap cut this last line short
            end = size
        path = next((f for f in known if stdout.startswith(f + ":", pos)), None)
        if (
            path is not None
            and per_file_cap is not None
            and seen.get(path, 0) >= per_file_cap
        ):
            seen[path] += 1  # past the cap: counted, never sliced out or parsed
            pos = end + 1
            continue
        hit = _grep_known(stdout[pos:end], known) or _grep_generic(stdout[pos:end])
        if hit is not None:
            count = seen.get(hit.path, 0)
            seen[hit.path] = count + 1
            if per_file_cap is None or count < per_file_cap:
                hits.append(hit)
        pos = end + 1
    return GrepScan(hits, seen)


def parse_grep_count(stdout: str, files: Sequence[str]) -> dict[str, int] | None:
    """``path:count`` lines of ``grep -c -H`` (files grep could not read are absent)."""
    counts: dict[str, int] = {}
    for raw in stdout.splitlines():
        path = next(
            (
                f
                for f in sorted(files, key=len, reverse=True)
                if raw.startswith(f + ":")
            ),
            None,
        )
        number = _int(raw[len(path) + 1 :]) if path is not None else None
        if path is not None and number is not None:
            counts[path] = number
    return counts if counts else None


def _grep_known(raw: str, files: Sequence[str]) -> GrepHit | None:
    for path in sorted(files, key=len, reverse=True):
        if raw.startswith(path + ":"):
            lineno, sep, text = raw[len(path) + 1 :].partition(":")
            number = _int(lineno) if sep else None
            if number is not None:
                return GrepHit(path, number, text.rstrip("\r"))
    return None


def _grep_generic(raw: str) -> GrepHit | None:
    m = _GREP_LINE.match(raw)
    number = _int(m["lineno"]) if m else None
    if m is None or number is None:
        return None
    return GrepHit(m["path"], number, m["text"].rstrip("\r"))
