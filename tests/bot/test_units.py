"""Command parsing, the store and pacing, without Slack."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands.diagnose import Help, UsageError, parse_command
from bot.store import Store
from bot.store.history import history
from diagnostics.model import MigrationKind, MigrationRef
from tests.bot.support import scripted_diagnosis


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web-02", MigrationRef(server="web-02")),
        ("web-02 --migration 42", MigrationRef(server="web-02", migration_id="42")),
        (
            "'my vm' --target-host=cmp-a-03",
            MigrationRef(server="my vm", target_host="cmp-a-03"),
        ),
        (
            "app-05 --kind evacuation",
            MigrationRef(server="app-05", kind=MigrationKind.EVACUATION),
        ),
        ("help", Help()),
        ("", Help()),
    ],
    ids=["vm", "migration", "quoted-and-equals", "kind", "help", "empty"],
)
def test_parse_command_accepts_valid_forms(text: str, expected: object) -> None:
    """The documented forms parse to the right reference."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("web-02 'unbalanced", "Cannot read the arguments: No closing quotation."),
        ("web-02 --bogus 1", "Unknown option `--bogus`."),
        ("a b", "Give one VM; `b` is extra."),
        ("web-02 --migration", "--migration needs a value."),
        (
            "web-02 --kind teleport",
            "--kind is one of evacuation, live-migration, migration, resize.",
        ),
        ("--migration 42", "Give the VM's name or id."),
        (f"web-02 --target-host {'h' * 256}", "at most 255 characters"),
    ],
    ids=[
        "unbalanced-quote",
        "unknown-option",
        "two-vms",
        "option-without-value",
        "unknown-kind",
        "no-vm",
        "too-long",
    ],
)
def test_parse_command_rejects_bad_input_without_raising(
    text: str, reason: str
) -> None:
    """Bad input is a usage message saying what is wrong, never an exception."""
    parsed = parse_command(text)
    assert isinstance(parsed, UsageError)
    assert reason in parsed.message


async def test_store_migrates_and_round_trips_runs(tmp_path: Path) -> None:
    """A fresh SQLite store is migrated by Alembic and keeps whole diagnoses, claims and escalations."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite'}")
    try:
        case = await store.create_case(
            vm_name="web-02", channel="C1", source="slash", kind="evacuation"
        )
        assert (await store.get_case(case.id)).kind == "evacuation"  # type: ignore[union-attr]
        d = scripted_diagnosis("web-02")
        run = await store.record_run(case.id, d, "U1")
        assert (await store.get_run(run.id)).diagnosis == d  # type: ignore[union-attr]
        claimed = await store.claim(case.id, "U2")
        assert claimed.claimed_by == "U2"
        await store.record_escalation(
            case.id, user_id="U2", dedup_key="k", status="accepted"
        )
        rows = await history(store)
        assert (rows[0].runs, rows[0].verdict) == (1, "libvirt_tls")
    finally:
        await store.close()
    reopened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite'}")
    assert (await reopened.latest_runs(case.id))[0].id == run.id
    await reopened.close()
