"""`migrate-diag demo --fix`: the whole loop on the embedded region ends resolved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main

pytestmark = pytest.mark.integration


def test_demo_fix_runs_the_loop_and_ends_resolved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Failure, diagnosis, a failing and a passing check, Retry, the move, green."""
    html = tmp_path / "demo-thread.html"
    assert main(["demo", "--fix", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    steps = re.findall(r"^── \d\. (.+)$", out, flags=re.MULTILINE)
    assert [s.split(" ")[0] for s in steps] == [
        "The", "The", "Which", "Retry,", "The", "Where",
    ]  # fmt: skip
    assert "ROOT CAUSE: libvirt_tls" in out
    assert "check cmp-a-02: ❌ libvirt_tls" in out
    assert "→ no Retry offered for this host" in out
    assert "→ the answer carries “Retry to cmp-a-03”" in out
    assert "confirm dialog: live-migrate web-02 to cmp-a-03?" in out
    assert "ran live-migrate web-02 to cmp-a-03: accepted (HTTP 202" in out
    assert re.search(
        r"audit: U0DEMOFIX retry to cmp-a-03: accepted \(request req-", out
    )
    assert re.search(
        r"✅ Resolved at .*: migration 2 cmp-a-01 → cmp-a-03 succeeded"
        r" \(seen by the bot following the move it started\)\n",
        out.split("── 6.")[1],
    )

    page = html.read_text(encoding="utf-8")
    assert (
        '<div class="msg parent resolved"><h3>✅ Resolved · Migration diagnosis: web-02'
        in page
    )
    assert "Retry to cmp-a-03" in page
    assert 'class="confirm"' in page
    assert "live-migrate web-02 to cmp-a-03?" in page
    assert "ran live-migrate web-02 to cmp-a-03: accepted" in page
    assert "<b>Resolved</b> at" in page


def test_demo_watch_and_fix_are_one_or_the_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--watch and --fix are two different demos: asking for both is a usage error."""
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--watch", "--fix"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
