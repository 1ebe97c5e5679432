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
