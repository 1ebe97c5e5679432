"""Mask secrets in text before it becomes evidence (sos ``postproc`` style).

Every string a collector takes from a host, a pod or an API (log lines, command output,
error text) passes through :func:`redact` once, at collection time, so nothing downstream
(checks, renderers, Slack, the store) ever holds a password, token or key.

The rules are deliberately greedy: a false positive costs a few characters of a log line,
a false negative leaks a credential into a chat channel.
"""

from __future__ import annotations

import re

MASK = "***"

# PEM private keys (RSA / EC / OPENSSH / ENCRYPTED / PKCS#8): the whole block, and a
# truncated block that never reaches its END line (a byte cap may cut it).
_PEM_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----.*?(?:-----END \1-----|\Z)",
    re.DOTALL,
)

# scheme://user:password@host -> scheme://user:***@host (transport_url, connection, ...);
# a transport_url may list several hosts: rabbit://u:p@h1:5672,u:p@h2:5672/
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")
_URL_USERINFO = re.compile(r"(?P<head>(?:://|,)[^:/@,\s]*:)[^@\s]+?(?=@)")

# Authorization headers: "Authorization: Bearer xyz", "'Authorization': 'Basic xyz'"
_AUTH_HEADER = re.compile(
    r"(?P<head>\bauthorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token|negotiate)?\s*)"
    r"[^\s'\",;]+",
    re.IGNORECASE,
)

# X-Auth-Token / X-Subject-Token / X-Service-Token headers ("X-Auth-Token: gAAAA...",
# "'X-Auth-Token': '{SHA256}...'")
_TOKEN_HEADER = re.compile(
    r"(?P<head>\bx-(?:auth|subject|service)-token['\"]?\s*[:=]\s*['\"]?)[^\s'\",;]+",
    re.IGNORECASE,
)

# key = value / key: value / "key": "value" for secret-ish keys. The key may carry a
# prefix or suffix (admin_password, metadata_proxy_shared_secret, node.session.auth.password,
# discovery.sendtargets.auth.password_in, rbd_secret_uuid, auth_token, api_key ...).
_SECRET_KEY = (
    r"[\w.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|"
    r"private[_\-]?key|credential|chap[_\-]?\w*)[\w.\-]*"
)
_KEY_VALUE = re.compile(
    r"(?P<head>(?P<q>['\"]?)\b" + _SECRET_KEY + r"(?P=q)\s*[=:]\s*)"
    r"(?P<value>'[^'\n]*'|\"[^\"\n]*\"|[^\s,;}&]+)",
    re.IGNORECASE,
)

# query parameters: ?token=..., &password=..., &X-Amz-Signature=..., &sig=...
_QUERY_PARAM = re.compile(
    r"(?P<head>[?&](?:[\w.\-]*(?:token|password|secret|key|signature|sig))=)[^&\s'\"#]+",
    re.IGNORECASE,
)

# Slack tokens: xoxb- (bot), xoxa-/xoxp- (user), xapp- (app-level), xoxe (refresh)
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abpsre](?:\.[a-z0-9]+)?|app)-[A-Za-z0-9-]{8,}")

# iscsiadm -m node output prints CHAP secrets as "node.session.auth.password = xyz" (covered
# by _KEY_VALUE); os-brick logs connection_info dicts: 'auth_password': 'xyz' (also covered).
# Keystone fernet tokens and bare bearer tokens appear after "token" (covered) or alone:
_FERNET = re.compile(r"\bgAAAAA[A-Za-z0-9_\-]{40,}={0,2}")

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
    if value[:1] in {"'", '"'}:
        return f"{m.group('head')}{value[0]}{MASK}{value[0]}"
    return f"{m.group('head')}{MASK}"


def _keep_head(m: re.Match[str]) -> str:
    return f"{m.group('head')}{MASK}"


def redact(text: str) -> str:
    """Return ``text`` with passwords, tokens, CHAP secrets and private keys masked.

    Idempotent: ``redact(redact(x)) == redact(x)``.
    """
    if not text:
        return text
    out = _PEM_BLOCK.sub(
        lambda m: f"-----BEGIN {m.group(1)}-----{MASK}-----END {m.group(1)}-----", text
    )
    out = _URL.sub(lambda m: _URL_USERINFO.sub(_keep_head, m.group(0)), out)
    out = _AUTH_HEADER.sub(_keep_head, out)
    out = _TOKEN_HEADER.sub(_keep_head, out)
    out = _ISCSIADM_VALUE.sub(_mask_value, out)
    out = _KEY_VALUE.sub(_mask_value, out)
    out = _QUERY_PARAM.sub(_keep_head, out)
    out = _SLACK_TOKEN.sub(MASK, out)
    return _FERNET.sub(MASK, out)
