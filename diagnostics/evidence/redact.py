"""Mask secrets in text before it becomes evidence or is stored (sos ``postproc`` style).

Every string taken from a host, a pod or an API (log lines, command output, faults,
tracebacks, error text) passes through :func:`redact` (or :func:`redact_lines` for the
lines of one log) where it enters the model, so nothing downstream (checks, renderers,
Slack, the store) ever holds a password, token or key. The bot's store calls
:func:`redact_json` on every body before writing it, as a second line of defence.

The rules are deliberately greedy: a false positive costs a few characters of a log line,
a false negative leaks a credential into a chat channel. Everything here is pure and
idempotent: ``redact(redact(x)) == redact(x)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

# PEM private keys (RSA / EC / OPENSSH / ENCRYPTED / PKCS#8). On one line (a JSON string
# with escaped newlines, a one-line dump) the body up to END, or to the end of the line when
# END is on a later line; the later lines are masked by ``redact_lines``.
_PEM_BEGIN = re.compile(
    r"-----BEGIN (?P<kind>(?:[A-Z0-9]+ )*PRIVATE KEY)-----.*?"
    r"(?P<end>-----END (?P=kind)-----|$)",
    re.MULTILINE,
)
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----")
# (both are matched from the end of a line's log prefix, hence no "^")
# a line inside a PEM block: base64, blank, or an RFC 1421 header ("DEK-Info: AES-128,...")
_PEM_BODY = re.compile(
    r"\s*(?:[A-Za-z0-9+/=*]*|(?:Proc-Type|DEK-Info|Comment): .*)\s*$"
)
# a body line seen without its BEGIN (the window or grep dropped it): one long base64 word
_B64_LINE = re.compile(
    r"\s*(?=\S*[A-Z])(?=\S*[a-z])(?=\S*\d)[A-Za-z0-9+/]{40,}={0,2}\s*$"
)
# the prefix a logger writes before each line of a multi-line message (oslo.log, libvirtd)
_LOG_HEADER = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[ T][\d:.]+(?:[+-]\d{4}|Z)?:? "
    r"(?:\d+ [A-Z]+ [\w.]+ (?:\[[^\]]*\] ?)*|\d+: \w+ : )?)"
)

# scheme://user:password@host -> scheme://user:***@host (transport_url, connection, ...);
# a transport_url may list several hosts: rabbit://u:p@h1:5672,u:p@h2:5672/. The password
# runs to the LAST "@" of its host entry (an unencoded "@" in a password must not leak).
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")
_URL_USERINFO = re.compile(r"(?P<head>(?:://|,)[^:/@,\s]*:)[^/\s,]*(?=@)")

# Authorization headers: "Authorization: Bearer xyz", "'Authorization': 'Digest a=b, c=d'":
# everything up to the closing quote or the end of the line
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization['\"]?\s*[:=]\s*(?P<q>['\"])?)"
    r"(?(q)(?:(?!(?P=q))[^\n])+|[^\n]+)",
    re.IGNORECASE,
)

# X-Auth-Token / X-Subject-Token / X-Service-Token headers ("X-Auth-Token: gAAAA...",
# "'X-Auth-Token': '{SHA256}...'")
_TOKEN_HEADER = re.compile(
    r"(?P<head>\bx-(?:auth|subject|service)-token\\*['\"]?\s*[:=]\s*\\*['\"]?)"
    r"[^\s'\",;\\]+",
    re.IGNORECASE,
)

# key = value / key: value / "key": "value" for secret-ish keys. The key may carry a
# prefix or suffix (admin_password, metadata_proxy_shared_secret, node.session.auth.password,
# discovery.sendtargets.auth.password_in, rbd_secret_uuid, _context_auth_token, api_key ...);
# a bare ``key`` (a Ceph keyring's ``key = AQB...==``, a JSON ``"key": ...``) is handled by
# ``_BARE_KEY``: "key: ..." is too common in prose.
_SECRET_WORD = (
    r"(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|"
    r"private[_\-]?key|credential|chap[_\-]?\w*)"
)
_SECRET_KEY = r"[\w.\-]*" + _SECRET_WORD + r"[\w.\-]*"
_SECRET_KEY_NAME = re.compile(_SECRET_KEY + r"|key", re.IGNORECASE)
# A quote may be escaped (``\"``): JSON inside a JSON string, as in oslo's envelope
# ("oslo.message" is itself a JSON text) or a dead-lettered body.
_QUOTE = r"(?:\\*['\"])"
_VALUE = (
    r"(?P<value>'[^'\n]*'|\"[^\"\n]*\"|(?P<eq>\\+['\"])(?:(?!(?P=eq)).)*(?P=eq)"
    r"|[^\s,;}&]+)"
)
_KEY_VALUE = re.compile(
    r"(?P<head>(?P<q>" + _QUOTE + r"?)\b" + _SECRET_KEY + r"(?P=q)\s*[=:]\s*)" + _VALUE,
    re.IGNORECASE,
)

_BARE_KEY = re.compile(
    r"(?P<head>(?:(?<![\w.\-])key\s*=|(?P<q>"
    + _QUOTE
    + r")key(?P=q)\s*:)\s*)"
    + _VALUE,
    re.IGNORECASE,
)

# query parameters: ?token=..., &password=..., &X-Amz-Signature=..., &sig=...
_QUERY_PARAM = re.compile(
    r"(?P<head>[?&](?:[\w.\-]*(?:token|password|secret|key|signature|sig))=)[^&\s'\"#]+",
    re.IGNORECASE,
)

# Slack tokens: xoxb- (bot), xoxa-/xoxp- (user), xapp- (app-level), xoxe (refresh); and
# incoming-webhook URLs, whose path is the secret
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abpsre](?:\.[a-z0-9]+)?|app)-[A-Za-z0-9-]{8,}")
_SLACK_HOOK = re.compile(r"(?P<head>hooks\.slack\.com/(?:services|workflows)/)[\w/\-]+")

# Keystone fernet tokens and bare bearer tokens appear after "token" (covered) or alone
_FERNET = re.compile(r"\bgAAAAA[A-Za-z0-9_\-]{40,}={0,2}")
# a Ceph secret anywhere (virsh secret-set-value --base64 AQB..., rbd logs): 28 bytes that
# start with the key type 1, so base64 "AQ" + 38 characters ending in "=="
_CEPH_KEY = re.compile(r"\bAQ[A-Za-z0-9+/]{36}==")

# iscsiadm's command-line form, as os-brick logs a failed ProcessExecutionError:
# "iscsiadm -m node ... --op update -n node.session.auth.password -v <secret>"
_ISCSIADM_VALUE = re.compile(
    r"(?P<head>(?:-n|--name)[ =](?:'|\")?"
    + _SECRET_KEY
    + r"(?:'|\")?\s+(?:-v|--value)[ =])"
    r"(?P<value>'[^'\n]*'|\"[^\"\n]*\"|\S+)",
    re.IGNORECASE,
)


def _mask_value(m: re.Match[str]) -> str:
    value = m.group("value")
    quote = m.groupdict().get("eq") or (value[0] if value[:1] in {"'", '"'} else "")
    return f"{m.group('head')}{quote}{MASK}{quote}"


def _keep_head(m: re.Match[str]) -> str:
    return f"{m.group('head')}{MASK}"


def _pem_same_line(m: re.Match[str]) -> str:
    return f"-----BEGIN {m.group('kind')}-----{MASK}{m.group('end')}"


# Words a secret-named key holds; a line without any of them skips the key rules (the
# costly ones: most log lines hold no secret). Compared case-folded, as the rules match.
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "credential", "chap")


def _redact_line(line: str) -> str:
    """The per-line rules (no newline in ``line``).

    Each rule runs only when the line holds a string its match cannot do without: the
    rules only ever replace text with the mask, so no rule can create another's match.
    """
    folded = line.casefold()
    out = _PEM_BEGIN.sub(_pem_same_line, line) if "-----BEGIN " in line else line
    if "://" in line:
        out = _URL.sub(lambda m: _URL_USERINFO.sub(_keep_head, m.group(0)), out)
    if "authorization" in folded:
        out = _AUTH_HEADER.sub(_keep_head, out)
    if "-token" in folded:
        out = _TOKEN_HEADER.sub(_keep_head, out)
    if any(word in folded for word in _SECRET_WORDS):
        out = _ISCSIADM_VALUE.sub(_mask_value, out)
        out = _KEY_VALUE.sub(_mask_value, out)
        out = _BARE_KEY.sub(_mask_value, out)
    if "=" in line and ("?" in line or "&" in line):
        out = _QUERY_PARAM.sub(_keep_head, out)
    if "xox" in line or "xapp" in line:
        out = _SLACK_TOKEN.sub(MASK, out)
    if "hooks.slack.com" in line:
        out = _SLACK_HOOK.sub(_keep_head, out)
    if "AQ" in line:
        out = _CEPH_KEY.sub(MASK, out)
    if "gAAAAA" in line:
        out = _FERNET.sub(MASK, out)
    header = _LOG_HEADER.match(out)
    head = header.group(0) if header else ""
    if _B64_LINE.match(out, len(head)):
        return f"{head}{MASK}"
    return out


def _opens_block(line: str) -> bool:
    """A BEGIN on this line whose END is not on it: the key continues on the next lines."""
    return any(not m.group("end") for m in _PEM_BEGIN.finditer(line))


def _inside_block(line: str) -> tuple[str, bool]:
    """Mask one line of a PEM body; the flag says the block goes on after it."""
    header = _LOG_HEADER.match(line)
    head = header.group(0) if header else ""
    end = _PEM_END.search(line, len(head))
    if end is not None:
        return f"{head}{MASK}{end.group(0)}{_redact_line(line[end.end() :])}", False
    if _PEM_BODY.match(line, len(head)):
        return f"{head}{MASK}", True
    # not key material: the block was cut short (a byte cap, a filter); judge it afresh
    return _redact_line(line), _opens_block(line)


def redact_lines(lines: Iterable[str]) -> list[str]:
    """Redact consecutive lines of one log or output, masking keys that span lines.

    A PEM private key that a logger wrote over several lines (each with its own oslo.log
    prefix) keeps the prefixes and loses its body; a body line met without its BEGIN is
    masked by its shape.
    """
    out: list[str] = []
    in_key = False
    for line in lines:
        if in_key:
            masked, in_key = _inside_block(line)
        else:
            masked = _redact_line(line)
            in_key = _opens_block(line)
        out.append(masked)
    return out


def redact(text: str) -> str:
    """Return ``text`` with passwords, tokens, CHAP secrets, keyrings and keys masked."""
    if not text:
        return text
    if "\n" not in text:
        return _redact_line(text)
    return "\n".join(redact_lines(text.split("\n")))


def is_secret_key(name: str) -> bool:
    """Does a field of this name hold a secret (``password``, ``_context_auth_token``)?"""
    return _SECRET_KEY_NAME.fullmatch(name) is not None


def redact_json(value: object) -> object:
    """A JSON-like value with every secret-named field masked and every string redacted.

    For bodies kept as they came (a notification with its ``_context_*`` fields, a
    webhook payload): the field name decides even when the value has no telltale shape.
    """
    return _walk(value, by_name=True)


def redact_strings(value: Any) -> Any:
    """A JSON-like value of our own (a stored diagnosis) with every string redacted.

    Field names are left alone: our own keys (a check's ``key`` fact) are not secrets.
    """
    return _walk(value, by_name=False)


def _walk(value: object, *, by_name: bool) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            k: (
                MASK
                if by_name
                and isinstance(k, str)
                and is_secret_key(k)
                and v not in (None, "")
                else _walk(v, by_name=by_name)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_walk(v, by_name=by_name) for v in value]
    return value
