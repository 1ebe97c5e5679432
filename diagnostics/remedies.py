"""Remediation templates declared by checks, and their safe filling into ``Remedy`` values.

A template's ``command`` is a shell command with ``{fact}`` placeholders. Filling never
lets a value change the command's shape: a value whose fact has a known kind (host
name, UUID, request id, user, path…) must match that kind's strict pattern, or the step
is left out (no command beats a wrong one); every value is then ``shlex.quote``-d, which
leaves the valid ones unchanged. Placeholders may only stand where a quoted word is a
word: never inside quotes of the template (checked when the template is declared).
A step whose ``when`` does not hold, or whose facts are missing, is left out.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from diagnostics.model import Place, Remedy, RemedyKind, RunsOn

HOST_NAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
REQUEST_ID = re.compile(
    r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
UNIX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}\Z")
ABS_PATH = re.compile(r"/[A-Za-z0-9_./@+-]{0,4095}\Z")
NUMBER = re.compile(r"[0-9]{1,12}\Z")
# names Nova, libvirt, systemd and Placement give: domains, units, aggregates, resource classes
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,254}\Z")

# the kind of a fact, from its name; facts not listed are only quoted
_KINDS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"(?:.*_)?host\Z"), HOST_NAME),
    (re.compile(r"request_id\Z"), REQUEST_ID),
    (re.compile(r".*(?:_id|uuid)\Z"), UUID),
    (re.compile(r"(?:.*_)?user\Z"), UNIX_USER),
    (re.compile(r".*(?:_path|_dir)\Z"), ABS_PATH),
    (re.compile(r".*(?:vcpus|_mb|_gb|_port|_number)\Z"), NUMBER),
    (re.compile(r".*(?:_unit|_domain|_name|aggregate|_class)\Z"), NAME),
)


def pattern_for(fact: str) -> re.Pattern[str] | None:
    """The strict pattern a fact's value must match to appear in a command."""
    return next((p for name, p in _KINDS if name.match(fact)), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where a template runs: the host may be a ``{fact}`` placeholder."""

    place: Place
    name: str | None = None


CLI = Where(place=Place.OPENSTACK_CLI)


def host(name: str) -> Where:
    """A shell on a hypervisor, e.g. ``host("{dest_host}")``."""
    return Where(place=Place.HOST, name=name)


def pod(deployment: str) -> Where:
    """A container of a management-plane deployment in the region namespace."""
    return Where(place=Place.POD, name=deployment)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemedyTemplate:
    """One declared remediation step; see the module docstring for the filling rules."""

    kind: RemedyKind
    on: Where
    command: str | None  # None: an instruction for a person, said in ``why``
    why: str
    # terms joined by "," (all must hold): "fact" (present and non-empty),
    # "fact=value", "!fact", "!fact=value"; None: always
    when: str | None = None

    def applies(self, facts: Mapping[str, str]) -> bool:
        return self.when is None or all(
            _holds(term, facts) for term in self.when.split(",")
        )


def _holds(term: str, facts: Mapping[str, str]) -> bool:
    negate = term.startswith("!")
    fact, sep, value = term.removeprefix("!").partition("=")
    have = facts.get(fact, "")
    holds = have == value if sep else bool(have)
    return holds is not negate


class TemplateError(ValueError):
    """A remediation template that could not be filled safely (bad declaration)."""


# what a command may start with (after a pipe too): real programs, never prose
PROGRAMS = frozenset(
    {
        "openstack", "nova-manage", "kubectl", "python3",
        "virsh", "systemctl", "journalctl", "openssl", "install", "mv", "ls", "cat",
        "ssh", "ssh-keygen", "ssh-keyscan", "ssh-copy-id", "sudo",
        "ss", "nc", "ip", "ping", "getent", "chronyc", "date", "grep",
        "iscsiadm", "multipath",
    }
)  # fmt: skip
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&"})


def _words(command: str) -> list[str]:
    """Shell words, with operators (| ; & ( ) < >) as words of their own."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def programs_of(command: str) -> list[str]:
    """The program each pipeline segment of ``command`` starts (``sudo -u x`` looked through)."""
    words = _words(command)
    starts, segment = [], True
    i = 0
    while i < len(words):
        word = words[i]
        if word in _SEPARATORS:
            segment = True
        elif segment:
            starts.append(word)
            segment = False
            if word == "sudo":
                while i + 1 < len(words) and words[i + 1].startswith("-"):
                    i += 2 if words[i + 1] in {"-u", "-g"} else 1
                segment = True
        i += 1
    return starts


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _fields_of(t: RemedyTemplate) -> set[str]:
    return {*_fields(t.command or ""), *_fields(t.on.name or "")}


def _validate(t: RemedyTemplate) -> RemedyTemplate:
    command = t.command or ""
    for name in _fields(command) + _fields(t.on.name or ""):
        if not name.isidentifier():
            raise TemplateError(f"{command!r}: placeholder {name!r}")
    # a placeholder inside quotes would be quoted twice: forbid it
    for quoted in re.findall(r"'[^']*'|\"[^\"]*\"", command):
        if "{" in quoted:
            raise TemplateError(f"{command!r}: placeholder inside quotes")
    if t.command is not None and {"(", ")"} & set(_words(command)):
        raise TemplateError(f"{command!r}: parentheses are prose (or a subshell)")
    unknown = [p for p in programs_of(command) if p not in PROGRAMS]
    if t.command is not None and (unknown or not programs_of(command)):
        raise TemplateError(f"{command!r}: starts with no known program {unknown}")
    if not t.why.strip() or "\n" in t.why:
        raise TemplateError(f"{t.command!r}: 'why' must be one sentence")
    if t.on.place is not Place.OPENSTACK_CLI and not t.on.name:
        raise TemplateError(f"{t.command!r}: a host or pod step needs a name")
    return t


def fix(
    on: Where, command: str, why: str, *, when: str | None = None
) -> RemedyTemplate:
    """A step that changes something to remove the cause."""
    return _validate(
        RemedyTemplate(kind=RemedyKind.FIX, on=on, command=command, why=why, when=when)
    )


def instruct(
    on: Where, why: str, *, kind: RemedyKind = RemedyKind.FIX, when: str | None = None
) -> RemedyTemplate:
    """A step that is no command (a person must do it); ``why`` says what to do."""
    return _validate(RemedyTemplate(kind=kind, on=on, command=None, why=why, when=when))


def check(
    on: Where, command: str, why: str, *, when: str | None = None
) -> RemedyTemplate:
    """A read-only step: to verify before a fix, or to look again after it."""
    return _validate(
        RemedyTemplate(
            kind=RemedyKind.CHECK, on=on, command=command, why=why, when=when
        )
    )


class _Quoted(dict[str, str]):
    """Values for a command, each already validated against its kind and quoted."""


def safe_value(fact: str, value: str) -> str | None:
    """``value`` ready for a command, or None when it does not match its kind."""
    pattern = pattern_for(fact)
    if pattern is not None and not pattern.match(value):
        return None
    return shlex.quote(value)


class _KeepMissing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_one(t: RemedyTemplate, facts: Mapping[str, str]) -> Remedy | None:
    """The filled step, or None when it does not apply or cannot be filled safely."""
    if not t.applies(facts):
        return None
    values: dict[str, str] = {}
    for name in _fields_of(t):
        raw = facts.get(name)
        safe = safe_value(name, raw) if raw else None
        if safe is None:
            return None
        values[name] = safe
    formatter = string.Formatter()
    command = (
        formatter.vformat(t.command, (), _Quoted(values))
        if t.command is not None
        else None
    )
    where = (
        formatter.vformat(t.on.name, (), _Quoted(values))
        if t.on.name is not None
        else None
    )
    why = formatter.vformat(t.why, (), _KeepMissing(facts))
    return Remedy(
        kind=t.kind, on=RunsOn(place=t.on.place, name=where), command=command, why=why
    )


def fill(
    templates: Iterable[RemedyTemplate], facts: Mapping[str, str]
) -> tuple[Remedy, ...]:
    """Every applicable step, filled, in declared order (fixes are declared first)."""
    filled = (fill_one(t, facts) for t in templates)
    return tuple(r for r in filled if r is not None)


def validate_order(templates: Iterable[RemedyTemplate]) -> str | None:
    """Why the declared order breaks "the fix comes first", or None when it holds.

    Checks may stand before a fix only as its guard: once the last fix is declared,
    only checks follow; a check before the first fix must be followed by a fix of the
    same ``when`` (the guard of that fix).
    """
    items = list(templates)
    fixes = [i for i, t in enumerate(items) if t.kind is RemedyKind.FIX]
    if not fixes:
        return None
    for i, t in enumerate(items[: fixes[-1]]):
        if t.kind is RemedyKind.CHECK:
            guarded = any(
                u.kind is RemedyKind.FIX and u.when == t.when for u in items[i + 1 :]
            )
            if not guarded:
                return f"check {t.command!r} precedes the fixes but guards none"
    return None
