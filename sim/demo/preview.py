"""A static HTML preview of a case's thread, rendered from the same Block Kit the bot sends.

``migrate-diag demo`` writes it (demo-thread.html). Every text is HTML-escaped; mrkdwn is
shown closely enough to judge the layout (code, bold, mentions), never executed as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

Blocks = Sequence[Mapping[str, Any]]

_CSS = """body{font-family:-apple-system,Segoe UI,sans-serif;max-width:760px;margin:2em auto;color:#1d1c1d}
.msg{border-left:3px solid #ddd;padding:.4em .8em;margin:.6em 0}.parent{border-color:#1264a3}
.reply{margin-left:2em}h3{margin:.2em 0}pre{background:#f6f6f6;border:1px solid #ddd;padding:.4em;
white-space:pre-wrap}code{background:#f6f6f6;color:#c01343;padding:0 .2em}.ctx{color:#616061;font-size:.85em}
.btn{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:.2em .7em;margin:.2em}
.danger{color:#e01e5a}.primary{background:#007a5a;color:#fff}.mention{background:#e8f5fa;color:#1264a3}
.resolved{border-color:#2eb67d;background:#f1faf5}.confirm{border:1px solid #bbb;border-radius:6px;
box-shadow:0 2px 6px rgba(0,0,0,.15);padding:.5em .8em;margin:.4em 0 .4em 1em;max-width:520px;background:#fff}
.confirm .ctx{margin-bottom:.3em}"""


_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_MENTION = re.compile(r"<([@!][^>]+)>")
_BOLD = re.compile(r"\*((?:(?!<br>)[^*])+)\*")  # within one line, as Slack


def _unslack(text: str) -> str:
    # Slack entities back to characters, then HTML-escape: the page shows what Slack shows
    return html.escape(
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def _mrkdwn(text: str) -> str:
    parts = re.split(r"(```.*?```|`[^`]*`)", text, flags=re.DOTALL)
    out = []
    for part in parts:
        # a star inside code is literal; bold is applied once over the whole text below,
        # so *Checked `h` as …:* (bold around code, as Slack allows) is bold too
        if part.startswith("```") and part.endswith("```") and len(part) >= 6:
            out.append(f"<pre>{_unslack(part[3:-3]).replace('*', '&#42;')}</pre>")
        elif part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{_unslack(part[1:-1]).replace('*', '&#42;')}</code>")
        else:
            # links and mentions first (they are escaped by html.escape below otherwise)
            piece = _LINK.sub("\0a\\1\0b\\2\0c", part)
            piece = _MENTION.sub("\0m\\1\0c", piece)
            piece = _unslack(piece)
            piece = re.sub(r"\0a(.*?)\0b(.*?)\0c", r'<a href="\1">\2</a>', piece)
            piece = re.sub(r"\0m(.*?)\0c", r'<span class="mention">\1</span>', piece)
            out.append(piece.replace("\n", "<br>"))
    return _BOLD.sub(r"<b>\1</b>", "".join(out))


def _text(obj: Mapping[str, Any]) -> str:
    if obj.get("type") == "mrkdwn":
        return _mrkdwn(str(obj.get("text", "")))
    return _unslack(str(obj.get("text", ""))).replace("\n", "<br>")


def _block(block: Mapping[str, Any], *, dialogs: bool = False) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"<h3>{_text(block['text'])}</h3>"
    if kind == "section":
        return f"<div>{_text(block['text'])}</div>"
    if kind == "context":
        return f'<div class="ctx">{" ".join(_text(e) for e in block["elements"])}</div>'
    if kind == "divider":
        return "<hr>"
    if kind == "actions":
        buttons = [
            f'<span class="btn {html.escape(str(e.get("style", "")))}">{_text(e["text"])}</span>'
            for e in block["elements"]
        ]
        # a reply's confirm dialog (a fix's) is drawn; the parent's Escalate one is not
        shown = [
            _confirm(e["confirm"])
            for e in block["elements"]
            if dialogs and e.get("confirm")
        ]
        return f"<div>{''.join(buttons)}</div>{''.join(shown)}"
    return f"<div class=ctx>[{html.escape(str(kind))} block]</div>"


def _confirm(dialog: Mapping[str, Any]) -> str:
    """The confirm dialog Slack opens on a click, drawn under its button."""
    return (
        '<div class="confirm"><div class="ctx">confirm dialog of the button above</div>'
        f"<b>{_text(dialog['title'])}</b><div>{_text(dialog['text'])}</div>"
        f'<span class="btn">{_text(dialog["deny"])}</span>'
        f'<span class="btn primary">{_text(dialog["confirm"])}</span></div>'
    )


def _resolved(blocks: Blocks) -> bool:
    head = next((b for b in blocks if b.get("type") == "header"), None)
    return head is not None and str(head["text"].get("text", "")).startswith("✅")


def render_thread_html(
    parent_blocks: Blocks, replies: Sequence[Blocks], title: str = "migrate-diag"
) -> str:
    """One HTML page: the parent message, then each reply, in order."""
    parent = "".join(_block(b) for b in parent_blocks)
    green = " resolved" if _resolved(parent_blocks) else ""
    body = [f'<div class="msg parent{green}">{parent}</div>']
    body += [
        f'<div class="msg reply">{"".join(_block(b, dialogs=True) for b in r)}</div>'
        for r in replies
    ]
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
