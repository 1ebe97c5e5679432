"""Block Kit rendering: Slack's limits always hold and hostile text stays inert."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cards import render_root_cause
from bot.rendering import ParentState, fit, parent_text, render_parent, render_step
from bot.textsafe import code_block, code_span, escape
from diagnostics.model import Diagnosis
from tests.fakeslack.blocks import validate_blocks
from tests.strategies import diagnoses

HOSTILE = (
    "<!channel> <@U123> <https://evil.example|click> *bold* _it_ ~s~ ``` `x` &amp;"
)


def _messages(d: Diagnosis) -> list[tuple[list[dict[str, object]], str]]:
    state = ParentState(
        case_id="case-1",
        vm_name=d.vm.name,
        diagnosis=d,
        run_id="run-1",
        claimed_by="U0ABC",
    )
    out = [
        (fit(render_parent(state)), parent_text(state)),
        (fit(render_root_cause(d, "run-1", None)), "x"),
    ]
    out += [(fit(render_step(s)), "x") for s in d.steps]
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diagnoses)
def test_any_diagnosis_renders_within_slack_limits(d: Diagnosis) -> None:
    """Every message built from any Diagnosis passes the stand-in's strict Block Kit check."""
    for blocks, text in _messages(d):
        assert validate_blocks(blocks, text_cap=12_000) is None
        assert len(text) <= 4000


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_hostile_text_never_becomes_markup(text: str) -> None:
    """Escaped text has no raw < or >, and code cannot be closed from inside."""
    for rendered in (escape(text), code_span(text), code_block(text)):
        assert "<" not in rendered
        assert ">" not in rendered
    assert code_span(text).count("`") == 2
    assert code_block(text)[3:-3].count("```") == 0


def test_hostile_vm_name_renders_inert() -> None:
    """A VM named like a mention, link and formatting produces none of them on the parent."""
    from tests.bot.support import scripted_diagnosis

    d = scripted_diagnosis(HOSTILE)
    blob = json.dumps(_messages(d))
    assert "<!channel>" not in blob
    assert "<https://evil" not in blob
    assert "<@U123>" not in blob
    # mrkdwn objects carry the name only inside code; prose goes out as plain_text
    for blocks, _ in _messages(d):
        for node in re.findall(r'"type": "mrkdwn"[^}]*', json.dumps(blocks)):
            assert "*bold*" not in node.replace("`*bold*", "")


def test_remediation_card_numbers_steps_with_where_and_why_and_code() -> None:
    """Each step: number, Fix/Check, where it runs, why; then the command as one code block."""
    from dataclasses import replace

    from diagnostics.model import Place, Remedy, RemedyKind, RunsOn
    from tests.bot.support import scripted_diagnosis

    d = scripted_diagnosis("web-1")
    assert d.root_cause is not None
    steps = (
        Remedy(kind=RemedyKind.FIX, on=RunsOn(place=Place.HOST, name="cmp-a-02"),
               command="systemctl restart libvirtd", why="Starts <b>libvirtd</b> again."),
        Remedy(kind=RemedyKind.CHECK, on=RunsOn(place=Place.OPENSTACK_CLI),
               command="openstack compute service list --service nova-compute", why="Up?"),
        Remedy(kind=RemedyKind.FIX, on=RunsOn(place=Place.POD, name="nova-conductor"),
               command=None, why="Ask the storage team."),
        Remedy(kind=RemedyKind.CHECK, on=RunsOn(place=Place.HOST, name="cmp-a-02"),
               command="ls " + "x" * 2000, why="Too long."),
    )  # fmt: skip
    d = replace(d, root_cause=replace(d.root_cause, remediation=steps))
    texts = [
        b["text"]["text"]
        for b in fit(render_root_cause(d, "run-1", None))
        if b.get("type") == "section" and "What to do" in b["text"]["text"]
    ]
    assert len(texts) == 1
    body = texts[0]
    assert (
        "*1. Fix* on `cmp-a-02`: Starts &lt;b&gt;libvirtd&lt;/b&gt; again.\n```systemctl restart libvirtd```"
        in body
    )
    assert (
        "*2. Check* with the `openstack` CLI: Up?\n```openstack compute service list --service nova-compute```"
        in body
    )
    assert "*3. Fix* in a `nova-conductor` pod: Ask the storage team." in body
    # a command is never cut (a cut command runs wrong): too long, it points to the report
    assert "x" * 1600 not in body
    assert "*4. Check* on `cmp-a-02`: Too long.\n_(command too long for Slack" in body
