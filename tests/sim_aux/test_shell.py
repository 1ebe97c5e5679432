"""The hypervisor command interpreter answers like the real tools, and never runs anything."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.hosts.shell import run
from tests.sim_aux import NOW, REQ, region_state

STATE = region_state()


def sh(
    command: str, host: str = "cmp-1", user: str = "pf9-diag"
) -> tuple[int, str, str]:
    return run(STATE, host, command, user=user, now=NOW)


def test_systemctl_prints_one_word_per_unit_and_exits_zero_if_any_active() -> None:
    """systemctl is-active prints each unit's state; status 3 only when none is active."""
    assert sh("systemctl is-active -- pf9-ostackhost nosuch") == (
        0,
        "active\ninactive\n",
        "",
    )
    assert sh("systemctl is-active -- pf9-cindervolume-base", host="cmp-5")[:2] == (
        3,
        "failed\n",
    )


def test_lscpu_reports_the_scenario_cpu() -> None:
    """lscpu prints the model name and the vendor id in its padded key: value layout."""
    code, out, _ = sh("lscpu")
    assert code == 0
    assert "Model name:                              Intel(R) Xeon(R) Gold 6338" in out
    assert "Vendor ID:                               GenuineIntel\n" in out


def test_df_prints_the_posix_table_for_the_instances_path() -> None:
    """df -P -B1 prints the header and the free bytes of the instances filesystem."""
    code, out, _ = sh("df -P -B1 -- /opt/data/instances")
    header, row = out.splitlines()
    assert code == 0
    assert header.split() == [
        "Filesystem",
        "1-blocks",
        "Used",
        "Available",
        "Capacity",
        "Mounted",
        "on",
    ]
    assert row.split()[3] == str(STATE.scenario.hosts["cmp-1"].disk_free_bytes)


def test_date_uses_the_host_clock() -> None:
    """date -u +FORMAT prints the region clock in the requested format."""
    assert sh("date -u +%Y-%m-%dT%H:%M:%SZ") == (0, "2026-11-25T19:20:00Z\n", "")


def test_openssl_prints_dates_in_openssl_format() -> None:
    """An expired server certificate shows notAfter two days before now, in GMT."""
    code, out, _ = sh(
        "openssl x509 -noout -subject -enddate -ext subjectAltName "
        "-in /etc/pki/libvirt/servercert.pem",
        host="cmp-2",
    )
    assert code == 0
    assert out == (
        "subject=CN = cmp-2\nnotAfter=Nov 23 19:20:00 2026 GMT\n"
        "X509v3 Subject Alternative Name: \n    DNS:cmp-2, IP Address:10.0.0.12\n"
    )


def test_openssl_missing_file_is_openssls_error() -> None:
    """A certificate file that is not there gives openssl's load error and status 1."""
    code, _, err = sh("openssl x509 -noout -enddate -in /etc/pki/nope.pem")
    assert code == 1
    assert err.startswith(
        "Could not open file or uri for loading certificate from /etc/pki/nope.pem\n"
    )


@pytest.mark.parametrize(
    ("dest", "code", "message"),
    [
        (
            "cmp-2",
            1,
            "error: authentication failed: Failed to verify peer's certificate",
        ),
        (
            "cmp-4",
            1,
            "error: unable to connect to server at 'cmp-4:16514': No route to host",
        ),
        ("nope", 1, "error: Unable to resolve address 'nope' service '16514'"),
        ("cmp-3", 124, ""),
    ],
    ids=["expired-peer-cert", "host-down", "unknown-name", "dropped-timeout-kills-it"],
)
def test_virsh_tls_probe_fails_like_libvirt(dest: str, code: int, message: str) -> None:
    """The libvirt TLS probe fails with libvirt's message for each broken destination."""
    got_code, out, err = sh(f"timeout 15 virsh -r -c qemu+tls://{dest}/system version")
    assert (got_code, out) == (code, "")
    assert message in err
    if code == 1:
        assert err.startswith("error: failed to connect to the hypervisor\n")


def test_virsh_tls_probe_refused_when_destination_libvirtd_stopped() -> None:
    """A destination whose libvirtd is not running refuses TCP 16514."""
    state = region_state()
    units = dict(state.scenario.hosts["cmp-2"].units, libvirtd="inactive")
    hosts = dict(state.scenario.hosts)
    hosts["cmp-2"] = hosts["cmp-2"].model_copy(update={"units": units})
    state.scenario = state.scenario.model_copy(update={"hosts": hosts})
    code, _, err = run(
        state, "cmp-1", "virsh -r -c qemu+tls://cmp-2/system version", now=NOW
    )
    assert code == 1
    assert "unable to connect to server at 'cmp-2:16514': Connection refused" in err


def test_virsh_tls_probe_succeeds_with_versions() -> None:
    """A healthy destination answers with libvirt's version lines."""
    code, out, _ = sh("virsh -r -c qemu+tls://cmp-5/system version")
    assert code == 0
    assert "Running hypervisor: QEMU 8.2.0\n" in out


def test_nc_and_ssh_probes() -> None:
    """nc reports a dropped port as TIMEOUT; ssh as pf9 prints the scenario's ssh error."""
    assert sh("nc -z -w 3 -- cmp-3 16514") == (1, "", "Ncat: TIMEOUT.\n")
    assert sh("nc -z -w 3 -- cmp-5 16514") == (0, "", "")
    ssh = "sudo -n -u pf9 ssh -o BatchMode=yes -o ConnectTimeout=5 -- {} true"
    assert sh(ssh.format("cmp-3")) == (255, "", "Host key verification failed.\n")
    assert sh(ssh.format("cmp-5"))[0] == 0


def test_storage_and_domain_probes() -> None:
    """iscsiadm, virsh list and test -d answer from the host's state."""
    assert sh("iscsiadm -m session")[0] == 0
    assert sh("iscsiadm -m session", host="cmp-2") == (
        21,
        "",
        "iscsiadm: No active sessions.\n",
    )
    assert sh("virsh -r list --all --name") == (0, "instance-00000001\n\n", "")
    assert sh("test -d /opt/data/instances/stale-dir")[0] == 0
    assert sh("test -d /opt/data/instances/other")[0] == 1


def test_test_with_double_dash_is_a_bash_syntax_error() -> None:
    """bash's test has no `--`: three arguments need a binary operator (exit 2)."""
    assert sh("test -d -- /opt/data/instances") == (
        2,
        "",
        "bash: test: --: binary operator expected\n",
    )


def test_grep_finds_request_id_with_file_and_line() -> None:
    """grep -H -n prints path:line:text and exits 0 on a match."""
    command = (
        f"grep -a -H -n -F -m 500 -e {shlex.quote(REQ)} -- /var/log/pf9/ostackhost.log"
    )
    code, out, _ = sh(command)
    assert code == 0
    assert out.startswith("/var/log/pf9/ostackhost.log:1:2026-11-25 19:10:00.000 ")
    assert out.count("\n") == 1


def test_grep_missing_file_is_status_two_even_with_matches() -> None:
    """GNU grep exits 2 when a file is missing, -s only hides the message."""
    command = (
        f"grep -s -H -F -e {shlex.quote(REQ)} -- /var/log/pf9/ostackhost.log /nope.log"
    )
    code, out, err = sh(command)
    assert (code, err) == (2, "")
    assert REQ in out


def test_pipeline_status_is_head_status() -> None:
    """In `grep ... | head -c N` the status is head's, and output is capped to N bytes."""
    code, out, _ = sh(
        "grep -F -e unrelated -- /var/log/pf9/ostackhost.log | head -c 10"
    )
    assert (code, len(out)) == (0, 10)
    assert sh(
        "grep -F -e nothing-matches -- /var/log/pf9/ostackhost.log | head -c 10"
    ) == (0, "", "")


def test_hostile_quoted_argument_stays_data() -> None:
    """A quoted argument holding ; and $() is one grep pattern, not shell code."""
    hostile = "req-1'; rm -rf / ; echo $(reboot) `halt`"
    code, out, err = sh(
        f"grep -a -s -F -e {shlex.quote(hostile)} -- /var/log/pf9/ostackhost.log"
    )
    assert (code, out, err) == (1, "", "")


def test_unknown_commands_and_options() -> None:
    """Unknown commands exit 127 as bash says; sudo and timeout word it their own way."""
    assert sh("rm -rf /") == (127, "", "bash: rm: command not found\n")
    assert sh("sudo -n rm -rf /") == (1, "", "sudo: rm: command not found\n")
    assert sh("timeout 5 rm x")[0] == 127
    assert sh("grep -Q x /var/log/pf9/ostackhost.log")[0] == 2
    assert sh("lscpu --json")[2].startswith("lscpu: unrecognized option '--json'")


def test_lists_run_each_command() -> None:
    """`;`, `&&` and `||` run commands in bash order; unknown ones print their errors."""
    code, out, err = sh("rm x; echo a && nope || echo b")
    assert (code, out) == (0, "a\nb\n")
    assert err == "bash: rm: command not found\nbash: nope: command not found\n"


def test_expansion_and_redirection_are_refused() -> None:
    """Unquoted $(...) and > are refused with status 2 instead of being run."""
    assert sh("echo $(id)")[0] == 2
    assert sh("cat /etc/shadow > /tmp/x")[0] == 2
    assert sh("echo 'unterminated")[0] == 2


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_command_lines_never_raise(line: str) -> None:
    """Any text gives a status and two strings, never an exception."""
    code, out, err = run(STATE, "cmp-1", line, now=NOW)
    assert isinstance(code, int)
    assert isinstance(out, str)
    assert isinstance(err, str)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "grep",
            "df",
            "date",
            "openssl",
            "virsh",
            "nc",
            "ssh",
            "test",
            "head",
            "systemctl",
            "iscsiadm",
            "sudo",
            "timeout",
            "lscpu",
            "multipath",
        ]
    ),
    st.lists(st.text(max_size=12), max_size=6),
)
def test_known_tools_with_arbitrary_arguments_never_raise(
    tool: str, args: list[str]
) -> None:
    """Known tools given any (quoted) arguments answer with a status, never raise."""
    code, _, _ = run(STATE, "cmp-1", shlex.join([tool, *args]), now=NOW)
    assert 0 <= code <= 255
