"""The HTML preview is built from the same Block Kit the bot sends, with everything escaped."""

from __future__ import annotations

from bot.cards import render_root_cause
from bot.rendering import ParentState, fit, render_parent
from sim.demo.preview import render_thread_html
from tests.bot.support import scripted_diagnosis


def test_preview_shows_parent_card_and_buttons_and_escapes_names() -> None:
    """A hostile VM name appears as text in the preview, never as HTML."""
    d = scripted_diagnosis("<script>alert(1)</script>")
    parent = fit(
        render_parent(
            ParentState(
                case_id="case-1", vm_name=d.vm.name, diagnosis=d, run_id="run-1"
            )
        )
    )
    page = render_thread_html(
        parent, [fit(render_root_cause(d, "run-1", "https://kb.example/runbook"))]
    )
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Re-run" in page
    assert "Show evidence" in page
    assert "<code>libvirt_tls</code>" in page
    assert '<a href="https://kb.example/runbook">Runbook</a>' in page


def test_a_replys_confirm_dialog_is_drawn_and_escaped_the_parents_is_not() -> None:
    """A fix's confirm (title, text, buttons) shows under its reply; Escalate's does not."""
    d = scripted_diagnosis("web-02")
    parent = fit(
        render_parent(
            ParentState(case_id="case-1", vm_name="web-02", diagnosis=d, run_id="r")
        )
    )
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Retry to cmp-a-03"},
        "action_id": "diag.fix.retry",
        "style": "primary",
        "confirm": {
            "title": {"type": "plain_text", "text": "live-migrate <b>web-02</b>?"},
            "text": {"type": "plain_text", "text": "Calls POST /servers/x/action"},
            "confirm": {"type": "plain_text", "text": "Migrate"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }
    reply = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Checked `h*1` as:* ok"},
        },
        {"type": "actions", "elements": [button]},
    ]
    page = render_thread_html(parent, [reply])
    assert page.count('class="confirm"') == 1  # the reply's, not Escalate's
    assert "live-migrate &lt;b&gt;web-02&lt;/b&gt;?" in page
    assert "Calls POST /servers/x/action" in page
    assert '<span class="btn primary">Migrate</span>' in page
    # bold around a code span, a star inside code stays a star
    assert "<b>Checked <code>h&#42;1</code> as:</b> ok" in page
    assert 'class="msg parent"' in page  # an open case's parent is not green
