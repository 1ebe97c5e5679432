"""Command builders quote every external value; parsers read real outputs and never raise."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnostics.evidence import host_commands as cmd

HOSTILE = [
    "req-1; rm -rf /",
    "$(touch /tmp/x)",
    "`id`",
    "a'b\"c",
    "--version",
    "-rf",
    "line1\nline2",
    "tab\there",
    "* ? [a] ~root",
    "",
]


def _split(command: cmd.HostCommand) -> list[str]:
    words = shlex.split(command.line)
    if command.byte_cap:
        assert words[-4:] == ["|", "head", "-c", str(command.byte_cap)]
        return words[:-4]
    return words


@pytest.mark.parametrize("value", HOSTILE)
def test_every_builder_keeps_a_hostile_value_as_one_argument(value):
    """shlex.split of each command line gives back exactly the intended argv."""
    built = [
        cmd.df(value),
        cmd.openssl_x509(value),
        cmd.virsh_tls_version(value),
        cmd.nc_port(value),
        cmd.ssh_trust("pf9", value),
        cmd.test_dir(value),
        cmd.systemctl_is_active([value, "libvirtd"]),
        cmd.grep_signatures(cmd.LIBVIRTD_SIGNATURES, [value]),
    ]
    for command in built:
        assert _split(command) == list(command.argv)
    assert f"qemu+tls://{value}/system" in cmd.virsh_tls_version(value).argv


@given(st.text(), st.text(), st.text())
def test_grep_fixed_round_trips_any_request_id_uuid_and_path(req, uuid, path):
    """Any request id / uuid / file name survives quoting; files sit after `--`."""
    command = cmd.grep_fixed(
        [req, uuid], ["/var/log/pf9/ostackhost.log", path], 500, 4096
    )
    argv = _split(command)
    assert argv == list(command.argv)
    assert argv[argv.index("--") + 1 :] == ["/var/log/pf9/ostackhost.log", path]
    patterns = [argv[i + 1] for i, a in enumerate(argv[:-2]) if a == "-e"]
    assert all(p and "\n" not in p and "\r" not in p for p in patterns)


def test_grep_fixed_drops_empty_and_multiline_patterns():
    """An empty pattern would match every line; a newline would split into two patterns."""
    command = cmd.grep_fixed(["", "a\nb", "req-1", "req-1"], ["/f"], 5, 1024)
    assert command.argv == (
        "grep",
        "-a",
        "-H",
        "-n",
        "-F",
        "-m",
        "5",
        "-e",
        "req-1",
        "--",
        "/f",
    )
    assert command.line.endswith(" | head -c 1024")


def test_documented_command_lines_are_produced_verbatim():
    """The builders print exactly the lines of docs/host-commands.md."""
    units = ("pf9-ostackhost", "libvirtd", "ovn-controller", "iscsid", "multipathd")
    assert (
        cmd.systemctl_is_active(units).line
        == "systemctl is-active -- pf9-ostackhost libvirtd ovn-controller iscsid multipathd"
    )
    assert cmd.df("/opt/data/instances").line == "df -P -B1 -- /opt/data/instances"
    assert cmd.date_utc().line == "date -u +%Y-%m-%dT%H:%M:%SZ"
    assert cmd.virsh_tls_version("cmp-b-01").line == (
        "timeout 15 virsh -r -c qemu+tls://cmp-b-01/system version"
    )
    assert cmd.nc_port("cmp-b-01").line == "nc -z -w 3 -- cmp-b-01 16514"
    assert cmd.ssh_trust("pf9", "cmp-b-01").line == (
        "sudo -n -u pf9 ssh -o BatchMode=yes -o ConnectTimeout=5 -- cmp-b-01 true"
    )
    assert cmd.virsh_list_all().line == "virsh -r list --all --name"
    assert cmd.grep_signatures(
        cmd.LIBVIRTD_SIGNATURES, ["/var/log/libvirt/libvirtd.log"]
    ).line == (
        "grep -a -H -n -E -m 200 -e 'Certificate check failed|certificate .* "
        "(has expired|is not yet active)|owner does not match the hostname' -- "
        "/var/log/libvirt/libvirtd.log | head -c 262144"
    )


LSCPU = """Architecture:                       x86_64
CPU op-mode(s):                     32-bit, 64-bit
Vendor ID:                          GenuineIntel
Model name:                         Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
Flags:                              fpu vme de pse tsc msr avx512f avx512dq
"""


def test_parse_lscpu_reads_model_vendor_and_flags():
    """Key, colon, padded value: the first occurrence of each key wins."""
    parsed = cmd.parse_lscpu(LSCPU)
    assert parsed.model == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    assert parsed.vendor == "GenuineIntel"
    assert parsed.arch == "x86_64"
    assert {"avx512f", "fpu"} <= parsed.flags


def test_parse_df_reads_the_posix_row():
    """df -P -B1: sizes in bytes from the single data row."""
    out = (
        "Filesystem     1-blocks         Used    Available Capacity Mounted on\n"
        "/dev/mapper/vg-data 1932735283200 966367641600 966367641600      50% /opt/data\n"
    )
    row = cmd.parse_df(out)
    assert row == cmd.DfRow(1932735283200, 966367641600, "/opt/data")
    assert cmd.parse_df("df: /nope: No such file or directory\n") is None


def test_parse_x509_reads_dates_subject_and_sans():
    """OpenSSL 3 output, including a space-padded day."""
    out = (
        "subject=CN = cmp-b-01\nissuer=CN = pf9-region-ca\n"
        "notBefore=Nov  5 19:20:00 2025 GMT\nnotAfter=Nov 23 19:20:00 2026 GMT\n"
        "X509v3 Subject Alternative Name: \n    DNS:cmp-b-01, IP Address:10.0.0.12\n"
    )
    cert = cmd.parse_x509("/etc/pki/libvirt/servercert.pem", out)
    assert cert is not None
    assert cert.not_before == datetime(2025, 11, 5, 19, 20, tzinfo=UTC)
    assert cert.not_after == datetime(2026, 11, 23, 19, 20, tzinfo=UTC)
    assert cert.sans == ("DNS:cmp-b-01", "IP Address:10.0.0.12")
    assert cmd.subject_cn(cert.subject) == "cmp-b-01"
    assert cmd.subject_cn("/C=US/CN=legacy-host") == "legacy-host"
    missing = "Could not open file or uri for loading certificate from /x\n"
    assert cmd.parse_x509("/x", missing) is None


def test_parse_virsh_error_keeps_the_libvirt_message():
    """The generic 'failed to connect' line is dropped, the cause is kept."""
    err = (
        "error: failed to connect to the hypervisor\n"
        "error: Cannot recv data: Connection reset by peer\n"
    )
    assert (
        cmd.parse_virsh_error("", err) == "Cannot recv data: Connection reset by peer"
    )
    assert cmd.parse_virsh_error("", "timeout: killed\n") == "timeout: killed"


@pytest.mark.parametrize(
    ("code", "stderr", "expected"),
    [
        (0, "", True),
        (1, "Ncat: Connection refused.\n", False),
        (1, "Ncat: TIMEOUT.\n", False),
        (127, "bash: nc: command not found\n", None),
    ],
)
def test_parse_nc(code, stderr, expected):
    """Open, closed, or cannot tell."""
    assert cmd.parse_nc(code, stderr) is expected


def test_parse_ssh_stderr_drops_known_hosts_warnings():
    """The 'Permanently added' warning is noise; the real error stays."""
    err = "Warning: Permanently added 'cmp-b-01' (ED25519) to the list of known hosts.\r\n"
    err += "pf9@cmp-b-01: Permission denied (publickey).\n"
    assert cmd.parse_ssh_stderr(err) == "pf9@cmp-b-01: Permission denied (publickey)."


def test_parse_iscsi_sessions_and_virsh_list():
    """Session lines are kept; 'No active sessions' (stderr) gives none."""
    out = "tcp: [1] 10.0.0.50:3260,1 iqn.2010-10.org.openstack:volume-abc (non-flash)\n"
    assert cmd.parse_iscsi_sessions(out) == (out.strip(),)
    assert cmd.parse_iscsi_sessions("") == ()
    assert cmd.parse_virsh_list("instance-00000001\n\ninstance-00000002\n") == (
        "instance-00000001",
        "instance-00000002",
    )
    assert cmd.parse_is_active(["a", "b", "c"], "active\nfailed\n") == {
        "a": "active",
        "b": "failed",
        "c": "unknown",
    }


def test_parse_grep_handles_colons_in_paths_and_cut_lines():
    """Known paths are matched as prefixes; a cut last line is dropped."""
    out = "/var/log/a:b.log:12:x: y\n/var/log/other.log:3:z\n/var/log/other.log:4:parti"
    hits = cmd.parse_grep(out, ["/var/log/a:b.log"], cut=True)
    assert hits == [
        cmd.GrepHit("/var/log/a:b.log", 12, "x: y"),
        cmd.GrepHit("/var/log/other.log", 3, "z"),
    ]


@given(st.text())
def test_parsers_never_raise(text):
    """Every parser returns a value for arbitrary text."""
    cmd.parse_lscpu(text)
    cmd.parse_df(text)
    cmd.parse_date(text)
    cmd.parse_x509("/p", text)
    cmd.subject_cn(text)
    cmd.parse_virsh_error(text, text)
    cmd.parse_nc(1, text)
    cmd.parse_ssh_stderr(text)
    cmd.parse_iscsi_sessions(text)
    cmd.parse_virsh_list(text)
    cmd.parse_is_active(["a"], text)
    cmd.parse_grep(text, ["/var/log/x"], cut=True)
    cmd.parse_grep(text)


@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_characters="\n")),
            st.integers(0, 10**30),
        )
    )
)
def test_parse_grep_never_raises_on_huge_line_numbers(rows):
    """Line numbers of any size (or digits of any script) never crash the parser."""
    text = (
        "".join(f"/f:{n}:{t}\n" for t, n in rows) + "/f:١٢:arabic digits\n/f:²:super\n"
    )
    hits = cmd.parse_grep(text, ["/f"])
    assert all(isinstance(h.lineno, int) for h in hits)


def test_grep_errors_tell_unreadable_from_missing():
    """Without -s grep names each file it could not search; unreadable is not missing."""
    stderr = (
        "grep: /var/log/pf9/ostackhost.log: Permission denied\n"
        "grep: /var/log/libvirt/qemu/instance-1.log: No such file or directory\n"
    )
    files = ["/var/log/pf9/ostackhost.log", "/var/log/libvirt/qemu/instance-1.log"]
    errors = cmd.parse_grep_errors(stderr, files)
    assert errors.unreadable == ("/var/log/pf9/ostackhost.log",)
    assert errors.missing == ("/var/log/libvirt/qemu/instance-1.log",)
    assert cmd.parse_grep_errors("", files) == cmd.GrepErrors()
