"""Remediation templates: real programs only, fix first, and no value can reshape a command."""

from __future__ import annotations

import dataclasses
import shlex
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics import remedies as r
from diagnostics.evaluate import _UNKNOWN_REMEDIES
from diagnostics.model import Place, RemedyKind
from diagnostics.plugins import bundled_checks
from diagnostics.registry import CheckSpec, RegistryError, declare
from diagnostics.remedies import (
    ABS_PATH,
    HOST_NAME,
    NAME,
    NUMBER,
    REQUEST_ID,
    UNIX_USER,
    UUID,
    RemedyTemplate,
    TemplateError,
    fill,
    fill_one,
    pattern_for,
    programs_of,
)

CHECKS = bundled_checks()
TEMPLATES = [(spec.id, t) for spec in CHECKS for t in spec.remediation] + [
    ("engine.unknown", t) for t in _UNKNOWN_REMEDIES
]
_BENIGN = {
    HOST_NAME: "cmp-a-02",
    UUID: "6f0c1a52-3d7e-4c1b-9a8e-2b1f5c7d9e01",
    REQUEST_ID: "req-6f0c1a52-3d7e-4c1b-9a8e-2b1f5c7d9e01",
    UNIX_USER: "pf9",
    ABS_PATH: "/etc/pki/libvirt/servercert.pem",
    NUMBER: "4",
    NAME: "instance-0000002a",
}
# what an attacker types: shell metacharacters, quotes, spaces, newlines, expansions
HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab-.;|&$()`'\"\\ \n\t*?~<>{}#!=:/@,")), max_size=24
) | st.sampled_from(["cmp-a-02; reboot", "$(reboot)", "x' ; rm -rf / ; '", "a\nb"])


def _fields(t: RemedyTemplate) -> list[str]:
    text = f"{t.command or ''} {t.on.name or ''}"
    return sorted({n for _, n, _, _ in string.Formatter().parse(text) if n})


def _benign(t: RemedyTemplate) -> dict[str, str]:
    facts: dict[str, str] = {}
    for name in _fields(t):
        pattern = pattern_for(name)
        facts[name] = _BENIGN[pattern] if pattern is not None else "value"
    return facts


def intended_words(t: RemedyTemplate) -> int:
    """How many words the command has when every value is ordinary."""
    filled = fill_one(dataclasses.replace(t, when=None), _benign(t))
    assert filled is not None, t
    assert filled.command is not None, t
    return len(shlex.split(filled.command))


@pytest.mark.parametrize(("check_id", "template"), TEMPLATES, ids=lambda x: str(x)[:60])
def test_every_command_starts_with_a_program(
    check_id: str, template: RemedyTemplate
) -> None:
    """Each pipeline segment of each command starts with a whitelisted program, no prose."""
    if template.command is None:
        assert template.why.endswith("."), f"{check_id}: an instruction is a sentence"
        return
    starts = programs_of(template.command)
    assert starts, template.command
    assert set(starts) <= r.PROGRAMS, f"{check_id}: {template.command}"


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s.id)
def test_fixes_come_before_the_checks(spec: CheckSpec) -> None:
    """After the last fix only checks follow; a check before a fix guards that fix."""
    kinds = [t.kind for t in spec.remediation]
    assert RemedyKind.FIX in kinds or spec.id in {"nova.no-valid-host"}, spec.id
    assert r.validate_order(spec.remediation) is None


def test_a_recheck_before_the_fix_is_refused_at_declaration() -> None:
    """Declaring 'look again' before the fix fails at import, not at 3 a.m."""

    def fn(server: object) -> None:
        """A check for this test only: it is declared, never run."""

    with pytest.raises(RegistryError, match="remediation order"):
        declare(
            fn,  # type: ignore[arg-type]
            id="t.order",
            title="t",
            applies_to=(),
            root_cause=CHECKS[0].root_cause,
            priority=1,
            step=1,
            summary="s",
            remediation=(
                r.check(r.CLI, "openstack server show {server_id}", "Look.", when="a"),
                r.fix(r.CLI, "openstack server start {server_id}", "Start it."),
            ),
        )


@pytest.mark.parametrize(
    "command",
    ["renew /etc/pki/x from the region CA", "On cmp-a-02: systemctl restart libvirtd",
     "openstack server show {server_id} (the VM)", "virsh list '{host}'"],
)  # fmt: skip
def test_prose_and_quoted_placeholders_are_refused(command: str) -> None:
    """A command that starts with a word that is no program, or quotes a value, is refused."""
    with pytest.raises(TemplateError):
        r.check(r.CLI, command, "Why.")


@settings(max_examples=15, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("check_id", "template"), TEMPLATES, ids=lambda x: str(x)[:60])
def test_hostile_values_never_add_words(
    check_id: str, template: RemedyTemplate, data: st.DataObject
) -> None:
    """Any value in any placeholder leaves the command with exactly its intended words."""
    if template.command is None:
        return
    facts = _benign(template)
    for name in _fields(template):
        if data.draw(st.booleans()):
            facts[name] = data.draw(HOSTILE, label=name)
    filled = fill_one(dataclasses.replace(template, when=None), facts)
    if filled is None:  # a value failed its strict pattern: no command at all
        return
    assert filled.command is not None
    assert len(shlex.split(filled.command)) == intended_words(template), filled.command
    if filled.on.place is Place.HOST:
        assert filled.on.name is not None
        assert HOST_NAME.match(filled.on.name)


def test_a_value_failing_its_pattern_drops_the_step() -> None:
    """A typo'd or hostile host gives no command for that host rather than a wrong one."""
    step = r.fix(r.host("{dest_host}"), "systemctl restart libvirtd", "Restart.")
    cli = r.check(r.CLI, "openstack network agent list --host {dest_host}", "Agents.")
    assert fill((step, cli), {"dest_host": "cmp-a-02; reboot"}) == ()
    assert fill((step, cli), {"dest_host": "the destination host"}) == ()
    ok = fill((step, cli), {"dest_host": "cmp-a-02"})
    assert [(s.on.name, s.command) for s in ok] == [
        ("cmp-a-02", "systemctl restart libvirtd"),
        (None, "openstack network agent list --host cmp-a-02"),
    ]


def test_free_values_are_quoted_into_one_word() -> None:
    """A value without a strict kind (an aggregate key) is shell-quoted."""
    t = r.fix(
        r.CLI, "openstack aggregate set --property {agg_key}=x {aggregate}", "Set."
    )
    filled = fill_one(t, {"agg_key": "a b; reboot", "aggregate": "agg-1"})
    assert filled is not None
    assert filled.command == "openstack aggregate set --property 'a b; reboot'=x agg-1"
    assert shlex.split(filled.command)[4] == "a b; reboot=x"


@pytest.mark.parametrize(
    ("when", "facts", "applies"),
    [
        ("a", {"a": "1"}, True), ("a", {"a": ""}, False), ("!a", {}, True),
        ("k=v", {"k": "v"}, True), ("k=v", {"k": "w"}, False),
        ("k=v,!a", {"k": "v", "a": "1"}, False), ("k=v,!a", {"k": "v"}, True),
    ],
)  # fmt: skip
def test_when_selects_steps(when: str, facts: dict[str, str], applies: bool) -> None:
    """``when`` terms: presence, equality, negation, all joined by commas."""
    t = r.check(r.CLI, "openstack server list", "List.", when=when)
    assert t.applies(facts) is applies
