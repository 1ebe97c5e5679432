"""GNU grep over a simulated host's log files, with grep's options, output and exit codes.

Exit status as GNU grep: 0 a line was selected, 1 none, 2 an error occurred (a missing
file or a bad pattern) -- 2 even when other files matched, and even with ``-s``, which
only silences the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sim.hosts.tools import Context, Result, directories, log_files

_USAGE = "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n"
_FLAGS = {
    "a": "text",
    "s": "no_messages",
    "H": "with_filename",
    "h": "no_filename",
    "n": "line_number",
    "F": "fixed",
    "E": "extended",
    "G": "basic",
    "i": "ignore_case",
    "v": "invert",
    "c": "count",
    "l": "files_with_matches",
    "q": "quiet",
    "w": "word",
    "x": "line",
}
_LONG = {
    "--text": "a",
    "--no-messages": "s",
    "--with-filename": "H",
    "--no-filename": "h",
    "--line-number": "n",
    "--fixed-strings": "F",
    "--extended-regexp": "E",
    "--basic-regexp": "G",
    "--ignore-case": "i",
    "--invert-match": "v",
    "--count": "c",
    "--files-with-matches": "l",
    "--quiet": "q",
    "--silent": "q",
    "--word-regexp": "w",
    "--line-regexp": "x",
}
_POSIX_CLASSES = {
    "[:alpha:]": "a-zA-Z",
    "[:digit:]": "0-9",
    "[:alnum:]": "a-zA-Z0-9",
    "[:space:]": r"\s",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:xdigit:]": "0-9A-Fa-f",
    "[:punct:]": r"!-/:-@\[-`{-~",
    "[:blank:]": r" \t",
}


@dataclass
class _Options:
    flags: set[str] = field(default_factory=set)
    patterns: list[str] = field(default_factory=list)
    explicit_patterns: bool = False
    max_count: int | None = None
    operands: list[str] = field(default_factory=list)


def _usage(message: str) -> Result:
    return Result(2, err=f"grep: {message}\n{_USAGE}")


def _parse(args: list[str]) -> _Options | Result:
    opts = _Options()
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            opts.operands += rest
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in _LONG and not eq:
                opts.flags.add(_LONG[name])
            elif name in ("--regexp", "--max-count"):
                if not eq:
                    if not rest:
                        return _usage(f"option '{name}' requires an argument")
                    value = rest.pop(0)
                bad = _take(opts, "e" if name == "--regexp" else "m", value)
                if bad:
                    return bad
            else:
                return _usage(f"unrecognized option '{arg}'")
        elif arg.startswith("-") and arg != "-":
            i = 1
            while i < len(arg):
                letter = arg[i]
                if letter in _FLAGS:
                    opts.flags.add(letter)
                    i += 1
                    continue
                if letter in ("e", "m"):
                    value = arg[i + 1 :]
                    if not value:
                        if not rest:
                            return _usage(f"option requires an argument -- '{letter}'")
                        value = rest.pop(0)
                    bad = _take(opts, letter, value)
                    if bad:
                        return bad
                    break
                return _usage(f"invalid option -- '{letter}'")
        else:
            opts.operands.append(arg)  # GNU grep permutes operands and options
    if not opts.explicit_patterns:
        if not opts.operands:
            return Result(2, err=_USAGE)
        opts.patterns = opts.operands.pop(0).split("\n")
    return opts


def _take(opts: _Options, letter: str, value: str) -> Result | None:
    if letter == "e":
        opts.patterns += value.split("\n")
        opts.explicit_patterns = True
        return None
    if not value.lstrip("-").isdigit():
        return Result(2, err="grep: invalid max count\n")
    opts.max_count = int(value)
    return None


def _translate(pattern: str, extended: bool) -> str:
    """POSIX BRE/ERE to Python ``re`` (the subset log searches use)."""
    for posix, python in _POSIX_CLASSES.items():
        pattern = pattern.replace(posix, python)
    if extended:
        return pattern
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "(){}|+?":
            out.append(pattern[i + 1])
            i += 2
            continue
        out.append("\\" + char if char in "(){}|+?" else char)
        i += 1
    return "".join(out)


def _compile(opts: _Options) -> re.Pattern[str] | Result:
    flags = opts.flags
    if "F" in flags:
        parts = [re.escape(p) for p in opts.patterns]
    else:
        parts = [_translate(p, "E" in flags) for p in opts.patterns]
    if "w" in flags:
        parts = [rf"(?<!\w)(?:{p})(?!\w)" for p in parts]
    if "x" in flags:
        parts = [rf"^(?:{p})$" for p in parts]
    try:
        return re.compile(
            "|".join(f"(?:{p})" for p in parts), re.I if "i" in flags else 0
        )
    except (re.error, RecursionError, OverflowError) as exc:
        if "paren" in str(exc) or "unbalanced" in str(exc):
            return Result(2, err="grep: Unmatched ( or \\(\n")
        return Result(2, err="grep: Invalid regular expression\n")


def grep(ctx: Context, args: list[str]) -> Result:
    opts = _parse(args)
    if isinstance(opts, Result):
        return opts
    regex = _compile(opts)
    if isinstance(regex, Result):
        return regex
    flags = opts.flags
    files = log_files(ctx)
    dirs = directories(ctx)
    names = opts.operands or ["(standard input)"]
    show_name = "H" in flags or (len(names) > 1 and "h" not in flags)
    out, err, error, selected = [], [], False, False
    for name in names:
        if name == "(standard input)" or name == "-":
            lines: list[str] = []  # nothing is piped into grep on these hosts
        elif name in files and name in ctx.spec.root_only and ctx.user != "root":
            error = True
            err.append(f"grep: {name}: Permission denied")
            continue
        elif name in files:
            lines = files[name]
        else:
            error = True
            why = (
                "Is a directory"
                if name.rstrip("/") in dirs
                else "No such file or directory"
            )
            err.append(f"grep: {name}: {why}")
            continue
        count = 0
        for number, line in enumerate(lines, start=1):
            if opts.max_count is not None and count >= opts.max_count:
                break
            if bool(regex.search(line)) == ("v" in flags):
                continue
            count += 1
            if "c" in flags or "l" in flags or "q" in flags:
                continue
            prefix = (f"{name}:" if show_name else "") + (
                f"{number}:" if "n" in flags else ""
            )
            out.append(prefix + line)
        selected = selected or count > 0
        if "c" in flags:
            out.append((f"{name}:" if show_name else "") + str(count))
        elif "l" in flags and count:
            out.append(name)
    if "q" in flags:
        out = []
        if selected:
            return Result(0)
    text = "".join(f"{line}\n" for line in out)
    messages = "" if "s" in flags else "".join(f"{e}\n" for e in err)
    return Result(2 if error else (0 if selected else 1), out=text, err=messages)
