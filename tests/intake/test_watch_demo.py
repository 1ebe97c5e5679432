"""`migrate-diag demo --watch`: a failing migration in the sim is posted without a command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sim.demo.watch import watch_demo

pytestmark = pytest.mark.integration


async def test_watch_demo_posts_the_failure_unprompted(tmp_path: Path) -> None:
    """The sim fails web-02's live migration; the notification leads to a posted diagnosis."""
    out = io.StringIO()
    html = tmp_path / "thread.html"
    assert await watch_demo("libvirt-tls-expired-cert", out, html_path=html) == 0
    text = out.getvalue()
    assert "Watching Nova's notifications on RabbitMQ" in text
    assert "ROOT CAUSE: libvirt_tls" in text
    page = html.read_text(encoding="utf-8")
    assert "web-02" in page
    assert "libvirt" in page
