"""Make untrusted text safe for Slack and fit it into Slack's limits.

Untrusted text (VM names, host names, log lines, anything a check's facts carried) must
never become a mention (``<!channel>``), a link or formatting. The rules:

* ``escape`` turns ``& < >`` into entities: Slack only parses mentions and links inside
  ``<...>``, so no escaped text can produce one.
* identifiers and log lines go inside code (``code_span``/``code_block``), where mrkdwn
  formatting does not apply; backticks in them are neutralised so they cannot close it.
* prose goes into ``plain_text`` objects, which Slack never formats.
* every mrkdwn object is ``verbatim`` so Slack does not auto-link URLs or channel names.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ZWSP = "\u200b"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")


def escape(text: str) -> str:
    return "".join(_ENTITIES.get(ch, ch) for ch in text)


def truncate(text: str, limit: int) -> str:
    """Cut to at most ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def escaped_within(text: str, limit: int) -> str:
    """Escape, then truncate without splitting an entity."""
    out: list[str] = []
    used = 0
    for ch in text:
        piece = _ENTITIES.get(ch, ch)
        if used + len(piece) > limit - 1:
            out.append(ELLIPSIS)
            return "".join(out)
        out.append(piece)
        used += len(piece)
    return "".join(out)


def code_span(text: str, limit: int = 200) -> str:
    """Inline code for an identifier. A backtick would end the span, so it becomes ˋ."""
    inner = escaped_within(text.replace("`", "ˋ").replace("\n", " "), limit) or " "
    return f"`{inner}`"


def code_block(text: str, limit: int = 2900) -> str:
    """A fenced block; a ``` inside would close it, so a zero-width space breaks the run."""
    body = text.replace("```", f"`{_ZWSP}`{_ZWSP}`")
    return f"```{escaped_within(body, limit - 6) or ' '}```"


def plain(text: str, limit: int = 3000) -> str:
    """Prose for a plain_text object."""
    return escaped_within(text, limit) or " "


def user_mention(user_id: str) -> str:
    """``<@U…>`` only for a well-formed Slack user id; anything else is shown as code."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else code_span(user_id)


def group_mention(group_id: str) -> str:
    return (
        f"<!subteam^{group_id}>" if _GROUP_ID.match(group_id) else code_span(group_id)
    )


def safe_url(url: str) -> str | None:
    """An http(s) URL fit for ``<url|label>``; None when it could smuggle markup."""
    if not re.match(r"^https?://[^\s<>|`]+$", url) or len(url) > 2900:
        return None
    return url.replace("&", "&amp;")
