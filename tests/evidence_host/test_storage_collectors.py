"""Storage-node collectors: backends from the volumes' host attribute and Cinder's
services, cinder-volume units and logs on the node, and "could not check" when they fail.

The OpenStack side is an in-memory fake of ``OpenStackApi.call`` and the block-storage
proxy; the hosts are an in-memory ``HostShell`` (answers from a dict) or, for the refused
connection, a real SSH pool pointed at a closed loopback port.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.host_commands import HostCommand
from diagnostics.evidence.ssh import CommandResult, HostShell
from diagnostics.evidence.storage_collectors import storage_node_logs, storage_nodes
from diagnostics.evidence.storage_commands import (
    backend_of,
    grep_cinder_log,
    parse_grep_errors,
)
from diagnostics.evidence.types import StorageNodeLogs, StorageNodes, Unavailable
from diagnostics.settings import HostAddress, SshSettings
from tests.evidence_host.fakes import make_ctx

VOL = "8c7a3b52-0f0e-4c2a-9d1e-3f5b2a6c7d10"
OTHER_VOL = "1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
REQ = "req-11111111-2222-3333-4444-555555555555"
PCD_LOG = "/var/log/pf9/cindervolume-base.log"
UPSTREAM_LOG = "/var/log/cinder/cinder-volume.log"
T0 = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
Answer = Callable[[list[str]], tuple[int, str, str]]


class FakeApi:
    """``OpenStackApi.call`` over an in-memory block-storage proxy; counts the calls."""

    def __init__(
        self, hosts: dict[str, str | None], services: list[dict[str, Any]]
    ) -> None:
        self.calls: list[str] = []

        def get_volume(volume_id: str) -> Any:
            if volume_id not in hosts:
                raise CollectorError("not found")
            return SimpleNamespace(id=volume_id, host=hosts[volume_id])

        def list_services(binary: str | None = None) -> list[Any]:
            rows = [SimpleNamespace(**s) for s in services]
            return [r for r in rows if binary is None or r.binary == binary]

        self.conn = SimpleNamespace(
            block_storage=SimpleNamespace(get_volume=get_volume, services=list_services)
        )

    async def call(
        self, what: str, fn: Callable[[], Any], **_: Any
    ) -> tuple[Any, tuple[()]]:
        self.calls.append(what)
        return fn(), ()


class MemoryShell(HostShell):
    """A HostShell whose hosts answer from a dict (host -> argv[0] -> answer)."""

    def __init__(
        self, settings: SshSettings, hosts: dict[str, dict[str, Answer]]
    ) -> None:
        super().__init__(settings)
        self.hosts = hosts
        self.commands: list[tuple[str, str]] = []

    async def run(
        self, host: str, command: HostCommand | Any, *, host_ip: str | None = None
    ) -> CommandResult:
        assert isinstance(command, HostCommand)
        self.commands.append((host, command.line))
        if host not in self.hosts:
            raise CollectorError(f"SSH connection refused by {host} (127.0.0.1:1)")
        argv = list(command.argv)
        answer = self.hosts[host].get(argv[0])
        code, out, err = (
            answer(argv)
            if answer
            else (127, "", f"bash: {argv[0]}: command not found\n")
        )
        return CommandResult(
            exit_code=code, stdout=out, stderr=err, command=command.line
        )


def _service(host: str, state: str = "up") -> dict[str, Any]:
    return {
        "binary": "cinder-volume", "host": host, "availability_zone": "nova",
        "status": "enabled", "state": state, "is_forced_down": False,
        "disabled_reason": None, "updated_at": "2026-11-25T18:59:52.000000",
    }  # fmt: skip


def _oslo(at: datetime, text: str, req: str = REQ, level: str = "ERROR") -> str:
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"{stamp} 2471 {level} cinder.volume.manager [{req} req-c - - -] {text}"


def _grep_files(files: dict[str, list[str] | str]) -> Answer:
    """grep -F (with -m and -c) over ``files``; a str value is grep's error for that path."""

    def run(argv: list[str]) -> tuple[int, str, str]:
        patterns = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
        cap = int(argv[argv.index("-m") + 1]) if "-m" in argv else None
        paths = argv[argv.index("--") + 1 :]
        out, err = [], []
        for path in paths:
            content = files.get(path, "No such file or directory")
            if isinstance(content, str):
                err.append(f"grep: {path}: {content}\n")
                continue
            hits = [
                (n, line)
                for n, line in enumerate(content, start=1)
                if any(p in line for p in patterns)
            ][:cap]
            if "-c" in argv:
                out.append(f"{path}:{len(hits)}\n")
            else:
                out += [f"{path}:{n}:{line}\n" for n, line in hits]
        return (2 if err else 0 if out else 1), "".join(out), "".join(err)

    return run


def _active(argv: list[str]) -> tuple[int, str, str]:
    units = argv[argv.index("--") + 1 :]
    return 0, "".join("active\n" for _ in units), ""


def _settings(tmp_path: Path, **extra: Any) -> SshSettings:
    return SshSettings.model_validate(
        {
            "known_hosts": tmp_path / "known_hosts",
            "use_hypervisor_host_ip": False,
            **extra,
        }
    )


def _ctx(api: Any, shell: Any, volume_ids: tuple[str, ...] = (VOL,), **kw: Any):
    ctx = make_ctx(SimpleNamespace(openstack=api, hosts=shell, mgmt=None), **kw)
    return replace(ctx, server=replace(ctx.server, volume_ids=volume_ids), shared={})


def _not_read(logs: Any) -> str:
    """The one node's could-not-check reason of a search that read no node at all."""
    assert isinstance(logs, StorageNodeLogs)
    assert logs.nodes == ()
    assert logs.lines == ()
    (why,) = logs.unchecked.values()
    assert why.startswith("could not check: ")
    return why


def test_backend_of_reads_cinders_host_at_backend_hash_pool():
    """storage-01@lvm#LVM names the backend storage-01@lvm on node storage-01."""
    assert backend_of("storage-01@lvm#LVM") == ("storage-01@lvm", "storage-01")
    assert backend_of("storage-01@lvm") == ("storage-01@lvm", "storage-01")
    assert backend_of("") is None
    assert backend_of(None) is None
    assert backend_of("@lvm#x") is None


def test_grep_keeps_hostile_ids_as_single_arguments_without_s():
    """Request ids and volume ids are one argument each; -s is not used (errors show)."""
    command = grep_cinder_log(
        ["req-1; reboot", "$(id)", "", "a\nb"], [PCD_LOG], 500, 4096
    )
    words = shlex.split(command.line)
    assert words[-4:] == ["|", "head", "-c", "4096"]
    assert words[:-4] == list(command.argv)
    assert "-s" not in command.argv
    assert (
        command.argv.count("-e") == 2
    )  # the empty and the multi-line patterns dropped
    assert command.argv[command.argv.index("--") + 1 :] == (PCD_LOG,)


@given(st.text(), st.text(), st.text())
def test_any_request_id_volume_id_and_path_round_trip(req, volume_id, path):
    """Whatever Cinder or the operator's config holds stays one argument each."""
    command = grep_cinder_log([req, volume_id], [PCD_LOG, path], 500, 4096)
    words = shlex.split(command.line)
    assert words[:-4] == list(command.argv)
    kept = [
        p for p in dict.fromkeys([req, volume_id]) if p and not set(p) & {"\n", "\r"}
    ]
    patterns = command.argv[command.argv.index("-m") + 2 : -3]
    assert patterns[::2] == ("-e",) * len(kept)
    assert list(patterns[1::2]) == kept
    assert command.argv[-3:] == ("--", PCD_LOG, path)


@given(st.text())
def test_backend_of_never_raises_and_names_a_node_without_at_or_hash(text):
    """Any host attribute gives None or (backend, node) with the node before '@'/'#'."""
    parsed = backend_of(text)
    if parsed is not None:
        backend, node = parsed
        assert node
        assert "@" not in node
        assert "#" not in backend


def test_grep_errors_tell_missing_from_unreadable():
    """A missing log is normal (another path applies); an unreadable one is reported."""
    problems = parse_grep_errors(
        f"grep: {UPSTREAM_LOG}: No such file or directory\n"
        f"grep: {PCD_LOG}: Permission denied\nnoise\n"
    )
    assert problems.missing == (UPSTREAM_LOG,)
    assert problems.unreadable == (f"{PCD_LOG}: Permission denied",)


async def test_nodes_cross_check_volume_host_with_cinder_services(tmp_path):
    """Each volume's backend is matched to its cinder-volume row; units are read on the node."""
    api = FakeApi(
        {VOL: "storage-01@lvm#LVM", OTHER_VOL: None},
        [_service("storage-01@lvm", "down"), _service("storage-02@lvm")],
    )
    shell = MemoryShell(_settings(tmp_path), {"storage-01": {"systemctl": _active}})
    found = await storage_nodes(_ctx(api, shell, (VOL, OTHER_VOL)))
    assert isinstance(found, StorageNodes)
    (node,) = found.nodes
    assert (node.backend, node.node, node.volume_ids) == (
        "storage-01@lvm",
        "storage-01",
        (VOL,),
    )
    assert node.service is not None
    assert node.service.state == "down"
    assert node.units == {"pf9-cindervolume-base": "active"}
    assert OTHER_VOL in found.unmapped
    assert "admin" in found.unmapped[OTHER_VOL]
    assert (
        "storage-01$ systemctl is-active -- pf9-cindervolume-base" in found.provenance
    )


async def test_log_lines_cite_the_storage_node_file_and_line(tmp_path):
    """Lines by request id / volume id come back with host:path:line, inside the window."""
    lines = [
        _oslo(T0 - timedelta(hours=5), f"old attach of {VOL}"),
        _oslo(T0, "Failed to add initiator iqn iqn.1994-05.com.redhat:ab12 to target"),
        _oslo(
            T0,
            f"Driver initialize connection failed (error: Failed to attach iSCSI "
            f"target for volume {VOL}.).",
            req="req-unrelated",
        ),
        _oslo(T0, "periodic task", req="req-unrelated"),
    ]
    api = FakeApi({VOL: "storage-01@lvm#LVM"}, [_service("storage-01@lvm")])
    shell = MemoryShell(
        _settings(tmp_path),
        {"storage-01": {"grep": _grep_files({PCD_LOG: lines}), "systemctl": _active}},
    )
    window = (T0 - timedelta(minutes=10), T0 + timedelta(minutes=10))
    ctx = _ctx(api, shell, window=window)
    found, nodes = await asyncio.gather(storage_node_logs(ctx), storage_nodes(ctx))
    assert isinstance(found, StorageNodeLogs)
    assert isinstance(nodes, StorageNodes)
    assert [ln.source for ln in found.lines] == [
        f"storage-01:{PCD_LOG}:2",
        f"storage-01:{PCD_LOG}:3",
    ]
    assert found.nodes == ("storage-01",)
    assert not found.unchecked
    assert found.provenance.startswith("storage-01$ grep -a -H -n -F -m 500 -e " + REQ)
    assert api.calls.count("GET /volumes/{id}") == 1  # one lookup shared by both steps


async def test_unreachable_node_is_could_not_check_never_empty(tmp_path):
    """No SSH to the storage node: the log step is unavailable with why and what it needs."""
    api = FakeApi({VOL: "storage-01@lvm#LVM"}, [_service("storage-01@lvm")])
    shell = MemoryShell(_settings(tmp_path), {})
    ctx = _ctx(api, shell)
    logs, nodes = await asyncio.gather(storage_node_logs(ctx), storage_nodes(ctx))
    why = _not_read(logs)
    assert why.startswith(
        "could not check: the cinder-volume log on storage-01: SSH connection refused"
    )
    assert "needs SSH as pf9-diag to the storage node storage-01" in why
    assert isinstance(nodes, StorageNodes)
    assert nodes.nodes[0].units is None
    assert (nodes.nodes[0].unchecked or "").startswith(
        "could not check: the cinder-volume units on storage-01: SSH"
    )


async def test_unreadable_log_is_reported_missing_one_is_not(tmp_path):
    """Permission denied on the PCD log with the upstream path absent: could not check."""
    api = FakeApi({VOL: "storage-01@lvm#LVM"}, [_service("storage-01@lvm")])
    grep = _grep_files({PCD_LOG: "Permission denied"})
    shell = MemoryShell(_settings(tmp_path), {"storage-01": {"grep": grep}})
    why = _not_read(await storage_node_logs(_ctx(api, shell)))
    assert f"cannot read {PCD_LOG}: Permission denied" in why
    assert "read access for pf9-diag" in why

    readable = _grep_files({PCD_LOG: [_oslo(T0, f"attach {VOL}")]})
    shell = MemoryShell(_settings(tmp_path), {"storage-01": {"grep": readable}})
    logs = await storage_node_logs(_ctx(api, shell))
    assert isinstance(logs, StorageNodeLogs)
    assert not logs.unchecked  # the upstream path is simply absent on a PCD node
    assert len(logs.lines) == 1


async def test_non_host_name_from_cinder_never_reaches_ssh(tmp_path):
    """A backend host that is not a host name is could-not-check, and nothing runs."""
    api = FakeApi({VOL: "-oProxyCommand=x@lvm#p"}, [])
    shell = MemoryShell(_settings(tmp_path), {})
    assert "is not a host name" in _not_read(await storage_node_logs(_ctx(api, shell)))
    assert shell.commands == []


async def test_vm_without_volumes_reads_nothing(tmp_path):
    """No volumes: no API call, no SSH, an empty (not unavailable) result."""
    api = FakeApi({}, [])
    shell = MemoryShell(_settings(tmp_path), {})
    logs = await storage_node_logs(_ctx(api, shell, ()))
    nodes = await storage_nodes(_ctx(api, shell, ()))
    assert isinstance(logs, StorageNodeLogs)
    assert logs.lines == ()
    assert isinstance(nodes, StorageNodes)
    assert nodes.nodes == ()
    assert api.calls == []
    assert shell.commands == []


async def test_hidden_host_attribute_is_unavailable_with_the_reason(tmp_path):
    """A non-admin sees no os-vol-host-attr:host: the node is unknown, said so."""
    api = FakeApi({VOL: None}, [])
    found = await storage_node_logs(_ctx(api, MemoryShell(_settings(tmp_path), {})))
    assert isinstance(found, Unavailable)
    assert "needs admin role" in found.reason


async def test_real_ssh_refused_by_a_closed_loopback_port(tmp_path):
    """Over the real SSH pool, a node mapped to a closed port is could-not-check."""
    settings = _settings(
        tmp_path, hosts={"storage-01": HostAddress(address="127.0.0.1", port=1)}
    )
    shell = HostShell(settings)
    api = FakeApi({VOL: "storage-01@lvm#LVM"}, [_service("storage-01@lvm")])
    try:
        logs = await storage_node_logs(_ctx(api, shell))
    finally:
        shell.close()
    assert "SSH connection refused by storage-01 (127.0.0.1:1)" in _not_read(logs)


async def test_capped_search_is_counted_on_the_node_and_disclosed(tmp_path):
    """Past the match cap the lines are counted with grep -c and the cap is said."""
    lines = [_oslo(T0, f"attach {VOL} try {i}") for i in range(5)]
    api = FakeApi({VOL: "storage-01@lvm#LVM"}, [_service("storage-01@lvm")])
    grep = _grep_files({PCD_LOG: lines})
    shell = MemoryShell(
        _settings(tmp_path, log_match_cap=2), {"storage-01": {"grep": grep}}
    )
    logs = await storage_node_logs(_ctx(api, shell))
    assert isinstance(logs, StorageNodeLogs)
    assert len(logs.lines) == 2
    assert logs.truncated
    assert logs.matched == 5
    assert logs.shown() == "showing 2 of 5 matching lines (capped)"
    assert "storage-01$ grep -c -a -H -F " in logs.provenance
