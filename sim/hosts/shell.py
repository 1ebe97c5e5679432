"""The command interpreter behind each simulated hypervisor's SSH server.

It reads a command line the way ``bash -c`` would (quotes, backslashes, ``;`` ``&&``
``||`` lists, pipelines) but never runs anything: each simple command is looked up in a
table of read-only tools that answer from the scenario (``sim/hosts/tools.py``,
``sim/hosts/grep.py``, ``sim/hosts/net.py``). A word is always data -- a quoted request id
containing ``;`` or ``$(...)`` stays one argument. What bash would expand or redirect
(``$var``, ``$(...)``, backquotes, ``<``, ``>``, ``&``, subshells) is refused with exit
status 2, since these hosts only serve the commands in docs/host-commands.md. A pipeline
may only feed ``head``; anything else after ``|`` behaves as a missing command would.

Prefixes ``sudo [-n] [-u USER]`` and ``timeout [opts] N`` work as the real ones do,
including their own messages for a command that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sim.hosts.grep import grep
from sim.hosts.net import nc, ssh, virsh
from sim.hosts.tools import (
    Context,
    Result,
    Tool,
    date,
    df,
    directories,
    iscsiadm,
    log_files,
    lscpu,
    multipath,
    openssl,
    systemctl,
)
from sim.region.state import RegionState

_MAX_DEPTH = 4  # ssh from host to host to host ... stops here
_BIN_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")
_UNSUPPORTED = "bash: {what}: not supported on this simulated host\n"


@dataclass(frozen=True, slots=True)
class _Op:
    text: str


class _ShellError(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.err)
        self.result = result


def _syntax(token: str) -> _ShellError:
    return _ShellError(
        Result(
            2, err=f"bash: -c: line 1: syntax error near unexpected token `{token}'\n"
        )
    )


def _unsupported(what: str) -> _ShellError:
    return _ShellError(Result(2, err=_UNSUPPORTED.format(what=what)))


def tokenize(line: str) -> list[str | _Op]:
    """Split a command line into words and control operators as bash does (no expansion)."""
    tokens: list[str | _Op] = []
    word: list[str] = []
    in_word = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal in_word
        if in_word:
            tokens.append("".join(word))
        word.clear()
        in_word = False

    while i < n:
        char = line[i]
        if char in " \t":
            flush()
        elif char == "\n":
            flush()
            tokens.append(_Op(";"))
        elif char == "#" and not in_word:
            break
        elif char == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise _ShellError(
                    Result(
                        2,
                        err="bash: -c: line 1: unexpected EOF while looking for matching `''\n",
                    )
                )
            word.append(line[i + 1 : end])
            in_word, i = True, end
        elif char == '"':
            i = _double_quoted(line, i + 1, word)
            in_word = True
        elif char == "\\":
            if i + 1 < n and line[i + 1] != "\n":
                word.append(line[i + 1])
                in_word = True
            i += 1
        elif char in "|&;<>()":
            flush()
            pair = line[i : i + 2]
            if pair in ("&&", "||", ";;", ">>", "<<", "&>", ">&", "<&", "|&"):
                tokens.append(_Op(pair))
                i += 1
            else:
                tokens.append(_Op(char))
        elif char == "`" or (
            char == "$" and i + 1 < n and re.match(r"[\w{(@*#?$!-]", line[i + 1])
        ):
            raise _unsupported("expansion `" + line[i : i + 2] + "'")
        else:
            word.append(char)
            in_word = True
        i += 1
    flush()
    return tokens


def _double_quoted(line: str, i: int, word: list[str]) -> int:
    """Consume a double-quoted span starting after the quote; returns the closing index."""
    while i < len(line):
        char = line[i]
        if char == '"':
            return i
        if char == "\\" and i + 1 < len(line) and line[i + 1] in '$`"\\\n':
            word.append(line[i + 1])
            i += 2
            continue
        if char == "`" or (
            char == "$"
            and i + 1 < len(line)
            and re.match(r"[\w{(@*#?$!-]", line[i + 1])
        ):
            raise _unsupported("expansion `" + line[i : i + 2] + "'")
        word.append(char)
        i += 1
    raise _ShellError(
        Result(
            2, err="bash: -c: line 1: unexpected EOF while looking for matching `\"'\n"
        )
    )


def _split_lists(tokens: list[str | _Op]) -> list[tuple[str, list[list[str]]]]:
    """[(connector, pipeline stages)]: connector is the operator before the pipeline."""
    lists: list[tuple[str, list[list[str]]]] = []
    connector, stages, current = ";", [], []
    for token in tokens:
        if isinstance(token, str):
            current.append(token)
            continue
        op = token.text
        if op in (";", "&&", "||", "|"):
            if not current:
                raise _syntax(op)
            stages.append(current)
            current = []
            if op != "|":
                lists.append((connector, stages))
                connector, stages = op, []
        else:
            raise _unsupported(f"operator `{op}'")
    if current:
        stages.append(current)
    if stages:
        if not current:
            raise _ShellError(
                Result(
                    2, err="bash: -c: line 2: syntax error: unexpected end of file\n"
                )
            )
        lists.append((connector, stages))
    elif connector in ("&&", "||"):
        raise _ShellError(
            Result(2, err="bash: -c: line 2: syntax error: unexpected end of file\n")
        )
    return lists


def execute(
    state: RegionState,
    host: str,
    line: str,
    *,
    user: str = "pf9-diag",
    now: datetime | None = None,
    depth: int = 0,
) -> Result:
    """Interpret one command line on ``host``; never raises for any input."""
    ctx = Context(
        state=state,
        host=host,
        user=user,
        now=now or datetime.now(UTC),
        interpreter=execute,
        depth=depth,
    )
    if depth > _MAX_DEPTH:
        return Result(255, err="ssh: connect to host: too many hops\n")
    try:
        lists = _split_lists(tokenize(line))
    except _ShellError as exc:
        return exc.result
    result = Result(0)
    out, err = [], []
    for connector, stages in lists:
        if (connector == "&&" and result.code != 0) or (
            connector == "||" and result.code == 0
        ):
            continue
        result = _pipeline(ctx, stages)
        out.append(result.out)
        err.append(result.err)
    return Result(
        result.code, out="".join(out), err="".join(err), seconds=result.seconds
    )


def run(
    state: RegionState,
    host: str,
    command_line: str,
    *,
    user: str = "pf9-diag",
    now: datetime | None = None,
) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``command_line`` on the simulated ``host``."""
    result = execute(state, host, command_line, user=user, now=now)
    return result.code, result.out, result.err


def _pipeline(ctx: Context, stages: list[list[str]]) -> Result:
    result = _simple(ctx, stages[0])
    for stage in stages[1:]:
        words = _strip_assignments(stage)
        name = words[0] if words else ""
        if name == "head":
            after = head(ctx, words[1:], stdin=result.out)
        elif _lookup(name) is None and name not in _BUILTINS:
            after = Result(127, err=f"bash: {name}: command not found\n")
        else:
            after = Result(2, err=_UNSUPPORTED.format(what=f"pipe into `{name}'"))
        # bash reports the last command's status; stderr of every stage reaches the terminal
        result = Result(
            after.code,
            out=after.out,
            err=result.err + after.err,
            seconds=result.seconds,
        )
    return result


def _strip_assignments(words: list[str]) -> list[str]:
    index = 0
    while index < len(words) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[index]):
        index += 1
    return words[index:]


def _lookup(name: str) -> Tool | None:
    if "/" in name:
        directory, _, base = name.rpartition("/")
        return _TOOLS.get(base) if directory in _BIN_DIRS else None
    return _TOOLS.get(name)


def _simple(ctx: Context, words: list[str], via: str = "bash") -> Result:
    words = _strip_assignments(words)
    if not words:
        return Result(0)
    name, args = words[0], words[1:]
    if name == "sudo":
        return _sudo(ctx, args)
    if name == "timeout":
        return _timeout(ctx, args)
    if name in _BUILTINS and via == "bash":
        return _BUILTINS[name](ctx, args)
    tool = _lookup(name)
    if tool is not None:
        return tool(ctx, args)
    if via == "sudo":
        return Result(1, err=f"sudo: {name}: command not found\n")
    if via == "timeout":
        return Result(
            127,
            err=f"timeout: failed to run command '{name}': No such file or directory\n",
        )
    if "/" in name:
        return Result(127, err=f"bash: {name}: No such file or directory\n")
    return Result(127, err=f"bash: {name}: command not found\n")


_SUDO_USAGE = (
    "usage: sudo -h | -K | -k | -V\nusage: sudo [-n] [-u user] command [arg ...]\n"
)


def _sudo(ctx: Context, args: list[str]) -> Result:
    user, rest = "root", list(args)
    while rest and rest[0].startswith("-"):
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg in ("-n", "--non-interactive"):
            continue
        if arg in ("-u", "--user") and rest:
            user = rest.pop(0)
        elif arg.startswith("-u") and len(arg) > 2:
            user = arg[2:]
        elif arg.startswith("--user="):
            user = arg.partition("=")[2]
        else:
            return Result(
                1, err=f"sudo: invalid option -- '{arg.lstrip('-')[:1]}'\n{_SUDO_USAGE}"
            )
    if not rest:
        return Result(1, err=_SUDO_USAGE)
    if ctx.user != "root" and not ctx.spec.diagnosis_sudo:
        return Result(1, err="sudo: a password is required\n")
    if user not in ("root", "pf9", ctx.user):
        return Result(
            1,
            err=f"sudo: unknown user {user}\nsudo: error initializing audit plugin sudoers_audit\n",
        )
    return _simple(replace(ctx, user=user), rest, via="sudo")


def _timeout(ctx: Context, args: list[str]) -> Result:
    rest = list(args)
    while rest and rest[0].startswith("-") and rest[0] != "--":
        arg = rest.pop(0)
        if arg in ("-s", "-k", "--signal", "--kill-after") and rest:
            rest.pop(0)
        elif not (
            arg in ("--preserve-status", "--foreground", "-v", "--verbose")
            or arg.startswith(("--signal=", "--kill-after="))
        ):
            return Result(
                125,
                err=f"timeout: invalid option -- '{arg.lstrip('-')[:1]}'\n"
                "Try 'timeout --help' for more information.\n",
            )
    if rest and rest[0] == "--":
        rest.pop(0)
    if len(rest) < 2:
        return Result(
            125,
            err="timeout: missing operand\nTry 'timeout --help' for more information.\n",
        )
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", rest[0])
    if match is None:
        return Result(
            125,
            err=f"timeout: invalid time interval '{rest[0]}'\n"
            "Try 'timeout --help' for more information.\n",
        )
    limit = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    result = _simple(ctx, rest[1:], via="timeout")
    if limit > 0 and result.seconds >= limit:
        return Result(124, seconds=limit)  # killed before it printed anything
    return result


def head(ctx: Context, args: list[str], stdin: str = "") -> Result:
    """``head -c N`` / ``-n N`` over stdin (a pipeline) or the host's log files."""
    count, by_bytes, files, rest = 10, False, [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-c", "-n", "--bytes", "--lines") or arg.startswith(
            ("-c", "-n", "--bytes=", "--lines=")
        ):
            by_bytes = arg.startswith(("-c", "--bytes"))
            value = (
                arg.partition("=")[2]
                if "=" in arg
                else arg[2:]
                if len(arg) > 2 and not arg.startswith("--")
                else (rest.pop(0) if rest else "")
            )
            match = re.fullmatch(r"(\d+)([KMG]?)", value)
            if match is None:
                kind = "bytes" if by_bytes else "lines"
                return Result(1, err=f"head: invalid number of {kind}: '{value}'\n")
            count = (
                int(match[1]) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match[2]]
            )
        elif arg.startswith("-") and arg != "-":
            return Result(
                1,
                err=f"head: invalid option -- '{arg[1:2]}'\nTry 'head --help' for more information.\n",
            )
        else:
            files.append(arg)
    texts, err = [], ""
    logs = log_files(ctx)
    for name in files or ["-"]:
        if name == "-":
            texts.append(stdin)
        elif name in logs:
            texts.append("".join(f"{line}\n" for line in logs[name]))
        else:
            err += (
                f"head: cannot open '{name}' for reading: No such file or directory\n"
            )
    out = ""
    for text in texts:
        if by_bytes:
            out += text.encode()[:count].decode(
                "utf-8", "ignore"
            )  # a cut mid-character is dropped
        else:
            out += "".join(text.splitlines(keepends=True)[:count])
    return Result(1 if err else 0, out=out, err=err)


def _test(ctx: Context, args: list[str], name: str = "test") -> Result:
    """bash's ``test`` builtin for the unary file/string tests and binary comparisons."""
    if name == "[":
        if not args or args[-1] != "]":
            return Result(2, err="bash: [: missing `]'\n")
        args = args[:-1]
    fail = f"bash: {name}: "
    paths = directories(ctx)
    files = set(log_files(ctx))

    def unary(op: str, value: str) -> bool | None:
        table = {
            "-d": value.rstrip("/") in paths or value == "/",
            "-e": value in paths or value in files,
            "-f": value in files,
            "-s": value in files,
            "-r": value in paths or value in files,
            "-n": value != "",
            "-z": value == "",
            "-L": False,
            "-h": False,
        }
        return table.get(op)

    if not args:
        return Result(1)
    if len(args) == 1:
        return Result(0 if args[0] else 1)
    if len(args) == 2:
        if args[0] == "!":
            return Result(1 if args[1] else 0)
        verdict = unary(args[0], args[1])
        if verdict is None:
            return Result(2, err=f"{fail}{args[0]}: unary operator expected\n")
        return Result(0 if verdict else 1)
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "==", "!="):
            return Result(0 if (left == right) == (op != "!=") else 1)
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            for value in (left, right):
                if not re.fullmatch(r"\s*-?\d+\s*", value):
                    return Result(
                        2, err=f"{fail}{value}: integer expression expected\n"
                    )
            a, b = int(left), int(right)
            verdict = {
                "-eq": a == b,
                "-ne": a != b,
                "-lt": a < b,
                "-le": a <= b,
                "-gt": a > b,
                "-ge": a >= b,
            }[op]
            return Result(0 if verdict else 1)
        if left == "!":
            inner = _test(ctx, args[1:])
            return inner if inner.code == 2 else Result(1 - inner.code)
        return Result(2, err=f"{fail}{op}: binary operator expected\n")
    return Result(2, err=f"{fail}too many arguments\n")


def _echo(ctx: Context, args: list[str]) -> Result:
    newline = "\n"
    if args and args[0] == "-n":
        args, newline = args[1:], ""
    return Result(0, out=" ".join(args) + newline)


_TOOLS: dict[str, Tool] = {
    "systemctl": systemctl,
    "lscpu": lscpu,
    "df": df,
    "date": date,
    "openssl": openssl,
    "virsh": virsh,
    "nc": nc,
    "ncat": nc,
    "ssh": ssh,
    "iscsiadm": iscsiadm,
    "multipath": multipath,
    "grep": grep,
    "head": head,
    "test": _test,
    "true": lambda c, a: Result(0),
    "false": lambda c, a: Result(1),
}
_BUILTINS: dict[str, Tool] = {
    "test": _test,
    "[": lambda c, a: _test(c, a, "["),
    "echo": _echo,
    "true": lambda c, a: Result(0),
    "false": lambda c, a: Result(1),
}
