"""A host that ignores the grep caps and would send 2 GB of matches costs the byte cap.

A real asyncssh server on 127.0.0.1 answers the log grep with 2,000,000 matching lines of
1,000 bytes (2 GB, generated as the client reads, never held) and ``grep -c`` with the
true count. The client must stop reading at ``log_byte_cap`` and close the channel, build
objects for at most ``log_match_cap`` lines, and say how many lines matched.
"""

from __future__ import annotations

import json
import shlex
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from bot.rendering import fit, render_step
from bot.settings import BotSettings
from diagnostics.evidence import host_commands as cmd
from diagnostics.evidence.host_logs import source_host_logs
from diagnostics.evidence.ssh import HostShell
from diagnostics.evidence.types import SourceHostLogs
from diagnostics.model import MigrationRef
from diagnostics.report import json as json_report
from diagnostics.report import text
from diagnostics.service import open_engine
from diagnostics.settings import HostAddress, SshSettings, load_settings
from diagnostics.step_facts import describe_step
from sim.testing import start_region
from tests.evidence_host.fakes import clients, known_hosts_line, make_ctx

pytestmark = pytest.mark.integration

REQ = "req-11111111-2222-3333-4444-555555555555"
LOG = "/var/log/pf9/ostackhost.log"
MATCHES = 2_000_000
LINE_BYTES = 1_000
BYTE_CAP = 1_048_576
MATCH_CAP = 500
MIB = 1024 * 1024


def _line(number: int) -> str:
    head = (
        f"{LOG}:{number}:2026-11-25 19:02:11.532 3521 ERROR nova.compute.manager"
        f" [{REQ} u p - - default default] Live Migration failure: "
    )
    return head + "x" * (LINE_BYTES - len(head) - 1) + "\n"


@dataclass
class FloodHost:
    """Ignores ``-m`` and ``head -c``: streams every match until the client hangs up."""

    sent: int = 0  # bytes of grep output written to the channel
    commands: list[str] | None = None
    counts: bool = True  # answers grep -c (else exits 2 with nothing)

    async def handle(self, process: Any) -> None:
        assert self.commands is not None
        self.commands.append(process.command)
        words = shlex.split(process.command)
        words = words[: words.index("|")] if "|" in words else words  # ignore head -c
        if "-c" in words and not self.counts:
            process.exit(2)
            return
        if "-c" in words:  # the count: what grep -c -H prints per file
            files = words[words.index("--") + 1 :]
            process.stdout.write(f"{files[0]}:{MATCHES}\n")
            process.stdout.write("".join(f"{f}:0\n" for f in files[1:]))
        elif "-F" in words:  # the request-id / uuid grep: 2 GB of hits
            try:
                for first in range(1, MATCHES + 1, 64):
                    chunk = "".join(_line(n) for n in range(first, first + 64))
                    process.stdout.write(chunk)
                    self.sent += len(chunk)
                    await process.stdout.drain()
            except (BrokenPipeError, ConnectionError, asyncssh.Error):
                return  # the client closed the channel: exactly what it should do
        process.exit(0 if "-F" in words or "-c" in words else 1)


@pytest.fixture
async def flood(tmp_path: Path) -> AsyncIterator[tuple[FloodHost, SshSettings]]:
    host = FloodHost(commands=[])
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = tmp_path / "id_diag"
    client_key.write_private_key(str(key_path))
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        asyncssh.SSHServer,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        process_factory=host.handle,
    )
    port = server.sockets[0].getsockname()[1]
    known = tmp_path / "known_hosts"
    pub = " ".join(host_key.export_public_key().decode().split()[:2])
    known.write_text(known_hosts_line(port, pub))
    settings = SshSettings.model_validate(
        {
            "key_file": key_path,
            "known_hosts": known,
            "hosts": {"cmp-a-01": HostAddress(address="127.0.0.1", port=port)},
            "log_files": [LOG],
            "log_byte_cap": BYTE_CAP,
            "log_match_cap": MATCH_CAP,
            "connect_timeout_s": 5.0,
            "command_timeout_s": 20.0,
        }
    )
    yield host, settings
    server.close()
    await server.wait_closed()


async def test_two_gigabytes_of_matches_cost_the_cap_and_are_counted(flood):
    """Memory stays far under 20 MB, the channel closes after the cap, the count is told."""
    host, settings = flood
    shell = HostShell(settings)
    ctx = make_ctx(clients(shell), instance_name=None, request_id=REQ)
    try:
        await shell.run("cmp-a-01", ["true"])  # connect first: measure the search alone
        tracemalloc.start()
        try:
            baseline, _ = tracemalloc.get_traced_memory()
            logs = await source_host_logs(ctx)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        shell.close()
    assert isinstance(logs, SourceHostLogs)
    assert peak - baseline < 20 * MIB
    # the client hung up after the cap, plus at most paramiko's 2 MiB receive window in
    # flight (measured: ~2.1 MiB sent of the 2 GB; peak ~2.8 MB)
    assert host.sent < BYTE_CAP + 3 * MIB
    assert len(logs.lines) <= MATCH_CAP
    assert logs.truncated
    assert logs.matched == MATCHES
    assert not logs.matched_at_least
    assert (
        logs.shown()
        == f"showing {len(logs.lines):,} of 2,000,000 matching lines (capped)"
    )
    assert "2,000,000" in describe_step(
        8, {SourceHostLogs: logs}, None, ("cmp-a-01", None)
    )
    assert any(" -c " in c for c in host.commands or [])


async def test_a_count_the_host_cannot_give_is_a_lower_bound(flood):
    """When ``grep -c`` gives nothing usable, the lines seen are reported as "≥"."""
    host, settings = flood
    host.counts = False
    shell = HostShell(settings)
    try:
        logs = await source_host_logs(make_ctx(clients(shell), instance_name=None))
    finally:
        shell.close()
    assert isinstance(logs, SourceHostLogs)
    assert logs.matched_at_least
    assert logs.matched is not None
    assert MATCH_CAP <= logs.matched <= BYTE_CAP // LINE_BYTES + 1
    assert "of ≥ " in logs.shown()


def test_scan_keeps_the_cap_per_file_and_counts_the_rest():
    """Past the per-file cap lines are only counted; a cut last line is dropped."""
    out = (
        "".join(f"/a.log:{n}:hit {n}\n" for n in range(1, 8)) + "/b.log:3:other\n/a.lo"
    )
    scan = cmd.scan_grep(out, ("/a.log", "/b.log"), cut=True, per_file_cap=2)
    assert [(h.path, h.lineno) for h in scan.hits] == [
        ("/a.log", 1),
        ("/a.log", 2),
        ("/b.log", 3),
    ]
    assert scan.seen == {"/a.log": 7, "/b.log": 1}


def test_the_count_repeats_the_search_without_its_caps():
    """grep -c over the same patterns and files, no -m, no -n, its own small byte cap."""
    search = cmd.grep_fixed(["req-1", "-e"], ["/a.log", "/b c.log"], 500, BYTE_CAP)
    count = cmd.grep_count(search)
    assert count.argv == (
        "grep", "-c", "-a", "-H", "-F", "-e", "req-1", "-e", "-e",
        "--", "/a.log", "/b c.log",
    )  # fmt: skip
    assert count.byte_cap == cmd.COUNT_BYTE_CAP
    assert cmd.parse_grep_count("/a.log:12\n/b c.log:0\n", ["/a.log", "/b c.log"]) == {
        "/a.log": 12,
        "/b c.log": 0,
    }
    assert cmd.parse_grep_count("grep: oops\n", ["/a.log"]) is None


async def test_the_report_says_how_many_lines_matched(tmp_path: Path) -> None:
    """Against the sim with a match cap of 1: text, JSON and Slack show "1 of N" lines."""
    async with start_region("unknown-failure", tmp_path) as region:
        base = load_settings(region.paths["config"], BotSettings)
        ssh = base.ssh.model_copy(update={"log_match_cap": 1})
        settings = base.model_copy(update={"ssh": ssh})
        async with open_engine(settings) as engine:
            diagnosis = await engine.diagnose(MigrationRef(server="kb-01"))
    step = next(s for s in diagnosis.steps if s.number == 8)
    said = step.summary + " ".join(step.findings)
    assert "showing 1 of 2 matching lines (capped)" in said
    rendered = {
        "text": text.render(diagnosis),
        "json": json_report.dumps(diagnosis),
        "slack": json.dumps(fit(render_step(step))),
    }
    for name, out in rendered.items():
        assert "showing 1 of 2 matching lines" in out, name
