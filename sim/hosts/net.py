"""Probes from one simulated hypervisor to another: virsh (local and qemu+tls), nc, ssh.

Reachability follows the scenario: a host with ``reachable: false`` is powered off
(``No route to host``); a source listed in the destination's ``tls.blocked_from`` has its
TCP 16514 packets dropped, so the connect hangs until the kernel gives up (~127 s; an
outer ``timeout N`` ends it first with status 124); a destination whose libvirtd is not
active or whose TLS listener is off refuses the connection. The TLS checks are libvirt's
(``virnettlscontext.c``, ``virnetclient.c``): local certificate times, the peer's issuer,
times and host name, then the server's verdict on our client certificate.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sim.hosts.tools import (
    CA_CERT,
    CLIENT_CERT,
    SERVER_CERT,
    Context,
    Result,
    certificates,
    unit_state,
)
from sim.region.state import RegionState
from sim.scenario.model import Certificate
from sim.scenario.times import resolve_time

_KERNEL_CONNECT_TIMEOUT = 127.0  # tcp_syn_retries=6
_URI = re.compile(
    r"^qemu\+(?P<scheme>tls|tcp)://(?P<host>[^/:]+)(?::(?P<port>\d+))?/system$"
)
_LIBVIRT_VERSION = "8.0.0"
_CONNECT_FAILED = "error: failed to connect to the hypervisor\n"


def resolve(state: RegionState, source: str, name: str) -> str | None:
    """The scenario host a name or IP address points at (None: does not resolve)."""
    if name in ("localhost", "127.0.0.1"):
        return source
    if name in state.scenario.hosts:
        return name
    for host_name, host in state.scenario.hosts.items():
        if host.host_ip == name:
            return host_name
    return None


def tcp(state: RegionState, source: str, dest: str, port: int) -> str:
    """``open`` / ``refused`` / ``timeout`` / ``unreachable`` for a connect from source."""
    host = state.scenario.hosts[dest]
    if not host.reachable:
        return "unreachable"
    if port == 16514:
        if source in host.tls.blocked_from:
            return "timeout"
        listening = host.tls.listening and unit_state(host, "libvirtd") == "active"
        return "open" if listening else "refused"
    return "open" if port == 22 else "refused"


def _time_problem(
    cert: Certificate, which: str, path: str, state_now: datetime, clock: datetime
) -> str | None:
    if resolve_time(cert.not_after, state_now) < clock:
        return f"The {which} certificate {path} has expired"
    if resolve_time(cert.not_before, state_now) > clock:
        return f"The {which} certificate {path} is not yet active"
    return None


def _name_matches(cert: Certificate, name: str) -> bool:
    dns = [s for s in cert.sans if not s.startswith("IP:")]
    ips = [s[3:] for s in cert.sans if s.startswith("IP:")]
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        return name in ips
    return name in dns if dns else name == cert.subject_cn  # CN only without DNS SANs


CLIENT_KEY = "/etc/pki/libvirt/private/clientkey.pem"


def _tls_connect(ctx: Context, target: str) -> Result:
    state = ctx.state
    clock = ctx.host_now
    if CLIENT_KEY in ctx.spec.root_only and ctx.user != "root":
        # gnutls cannot read the key as this user (virNetTLSContextSetCertAndKey)
        message = (
            f"Unable to set x509 key and certificate: {CLIENT_KEY}, {CLIENT_CERT}: "
            "Error while reading file."
        )
        return Result(1, err=f"{_CONNECT_FAILED}error: {message}\n")
    mine = certificates(state, ctx.host)
    for path, which in ((CA_CERT, "CA"), (CLIENT_CERT, "client")):
        problem = _time_problem(mine[path], which, path, state.now, clock)
        if problem:
            return Result(1, err=f"{_CONNECT_FAILED}error: {problem}\n")
    dest = resolve(state, ctx.host, target)
    if dest is None:
        message = f"Unable to resolve address '{target}' service '16514': Name or service not known"
        return Result(1, err=f"{_CONNECT_FAILED}error: {message}\n")
    reach = tcp(state, ctx.host, dest, 16514)
    prefix = (
        f"{_CONNECT_FAILED}error: unable to connect to server at '{target}:16514': "
    )
    if reach == "unreachable":
        return Result(1, err=prefix + "No route to host\n", seconds=3.0)
    if reach == "timeout":
        return Result(
            1, err=prefix + "Connection timed out\n", seconds=_KERNEL_CONNECT_TIMEOUT
        )
    if reach == "refused":
        return Result(1, err=prefix + "Connection refused\n")
    theirs = certificates(state, dest)
    server = theirs[SERVER_CERT]
    dest_spec = state.scenario.hosts[dest]
    peer_bad = (
        server.issuer_cn != mine[CA_CERT].subject_cn
        or _time_problem(server, "server", "[session]", state.now, clock) is not None
        or not _name_matches(server, target)
    )
    if peer_bad:
        message = "authentication failed: Failed to verify peer's certificate"
        return Result(1, err=f"{_CONNECT_FAILED}error: {message}\n")
    dest_clock = ctx.now + timedelta(seconds=dest_spec.clock_skew_seconds)
    client = mine[CLIENT_CERT]
    if client.issuer_cn != dest_spec.tls.ca_issuer_cn or _time_problem(
        client, "client", "[session]", state.now, dest_clock
    ):
        message = "server verification (of our certificate or IP address) failed"
        return Result(1, err=f"{_CONNECT_FAILED}error: {message}\n")
    return _version(dest_spec.hypervisor_version)


def _version(qemu: int) -> Result:
    """``virsh version`` against a daemon whose QEMU is ``qemu`` (libvirt's encoding)."""
    out = (
        f"Compiled against library: libvirt {_LIBVIRT_VERSION}\n"
        f"Using library: libvirt {_LIBVIRT_VERSION}\n"
        f"Using API: QEMU {_LIBVIRT_VERSION}\n"
        f"Running hypervisor: QEMU {qemu // 1000000}.{qemu // 1000 % 1000}.{qemu % 1000}\n"
        f"Running against daemon: {_LIBVIRT_VERSION}\n"
    )
    return Result(0, out=out)


def _domains(ctx: Context) -> list[tuple[str, str]]:
    found = [
        (
            str(s["instance_name"]),
            "running" if s.get("power_state") == 1 else "shut off",
        )
        for s in ctx.state.servers.values()
        if s["host"] == ctx.host and s.get("vm_state") != "deleted"
    ]
    return found + [(name, "shut off") for name in ctx.spec.domains]


def virsh(ctx: Context, args: list[str]) -> Result:
    uri, rest = None, list(args)
    while rest and rest[0].startswith("-"):
        arg = rest.pop(0)
        if arg in ("-r", "--readonly", "-q", "--quiet"):
            continue
        if arg in ("-c", "--connect") and rest:
            uri = rest.pop(0)
        elif arg.startswith("--connect="):
            uri = arg.partition("=")[2]
        else:
            return Result(1, err=f"error: unsupported option '{arg}'. See --help.\n")
    if not rest:
        return Result(
            1, err="error: the interactive virsh shell is not available here\n"
        )
    command, options = rest[0], rest[1:]
    if command not in ("version", "list"):
        return Result(1, err=f"error: unknown command: '{command}'\n")
    allowed = {"version": set(), "list": {"--all", "--name", "--inactive"}}[command]
    bad = next((o for o in options if o not in allowed), None)
    if bad is not None:
        return Result(
            1, err=f"error: command '{command}' doesn't support option {bad}\n"
        )
    if uri not in (None, "qemu:///system"):
        match = _URI.match(uri or "")
        if match is None or command != "version":
            return Result(
                1,
                err=f"{_CONNECT_FAILED}error: no connection driver available "
                f"for {uri}\n",
            )
        if match["scheme"] == "tcp":  # PCD listens on TLS only
            return Result(
                1,
                err=f"{_CONNECT_FAILED}error: unable to connect to server at "
                f"'{match['host']}:16509': Connection refused\n",
            )
        return _tls_connect(ctx, match["host"])
    if unit_state(ctx.spec, "libvirtd") != "active":
        socket = "/var/run/libvirt/libvirt-sock-ro"
        return Result(
            1,
            err=f"{_CONNECT_FAILED}error: Failed to connect socket to "
            f"'{socket}': No such file or directory\n",
        )
    if command == "version":
        return _version(ctx.spec.hypervisor_version)
    domains = _domains(ctx)
    if "--all" not in options:
        domains = [d for d in domains if d[1] == "running"]
    if "--name" in options:
        return Result(0, out="".join(f"{name}\n" for name, _ in domains) + "\n")
    lines = [" Id   Name                State", "-" * 35]
    for index, (name, status) in enumerate(domains, start=1):
        ident = str(index) if status == "running" else "-"
        lines.append(f" {ident:<4} {name:<19} {status}")
    return Result(0, out="\n".join(lines) + "\n\n")


def nc(ctx: Context, args: list[str]) -> Result:
    wait, operands, rest = 10.0, [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            operands += rest
            break
        if arg in ("-z", "-v", "-n", "-4"):
            continue
        if arg.startswith("-w"):
            value = arg[2:] or (rest.pop(0) if rest else "")
            try:
                wait = float(value)
            except ValueError:
                return Result(
                    2,
                    err="Ncat: Invalid -w timeout (must be greater than 0). QUITTING.\n",
                )
        elif arg.startswith("-"):
            return Result(
                2,
                err=f"ncat: invalid option -- '{arg[1:2]}'\nNcat: Try `--help' or "
                "man(1) ncat for more information, usage options and help. QUITTING.\n",
            )
        else:
            operands.append(arg)
    if len(operands) != 2:
        return Result(
            2,
            err="Ncat: Try `--help' or man(1) ncat for more information, usage "
            "options and help. QUITTING.\n",
        )
    name, port = operands
    if not port.isdigit() or not 0 < int(port) < 65536:
        return Result(2, err=f'Ncat: Invalid port number "{port}". QUITTING.\n')
    dest = resolve(ctx.state, ctx.host, name)
    if dest is None:
        return Result(
            2,
            err=f'Ncat: Could not resolve hostname "{name}": Name or service '
            "not known. QUITTING.\n",
        )
    reach = tcp(ctx.state, ctx.host, dest, int(port))
    if reach == "open":
        return Result(0)
    if reach == "refused":
        return Result(1, err="Ncat: Connection refused.\n")
    if reach == "unreachable":
        return Result(1, err="Ncat: No route to host.\n", seconds=min(wait, 3.0))
    return Result(1, err="Ncat: TIMEOUT.\n", seconds=wait)


def ssh(ctx: Context, args: list[str]) -> Result:
    rest, words = list(args), []
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            words = rest
            break
        if arg in ("-o", "-p", "-i", "-l") and rest:
            rest.pop(0)
        elif arg.startswith("-o") or arg in ("-q", "-T", "-n", "-x", "-4"):
            continue
        elif arg.startswith("-"):
            return Result(
                255,
                err=f"unknown option -- {arg[1:2]}\nusage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] "
                "destination [command [argument ...]]\n",
            )
        else:
            words = [arg, *rest]
            break
    if not words:
        return Result(
            255,
            err="usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] destination [command [argument ...]]\n",
        )
    target = words[0].rpartition("@")[2]
    dest = resolve(ctx.state, ctx.host, target)
    if dest is None:
        return Result(
            255,
            err=f"ssh: Could not resolve hostname {target}: Name or service not known\n",
        )
    if not ctx.state.scenario.hosts[dest].reachable:
        return Result(
            255,
            err=f"ssh: connect to host {target} port 22: No route to host\n",
            seconds=3.0,
        )
    if ctx.user != "pf9":  # only the compute user has keys between hypervisors
        return Result(255, err=f"{ctx.user}@{target}: Permission denied (publickey).\n")
    trust = ctx.spec.ssh_to.get(target, ctx.spec.ssh_to.get(dest, ""))
    if trust:
        return Result(255, err=trust.rstrip("\n") + "\n")
    remote = " ".join(words[1:])
    if not remote:
        return Result(
            0,
            err="Pseudo-terminal will not be allocated because stdin is not a terminal.\n",
        )
    # the remote side runs the same interpreter
    return ctx.interpreter(
        ctx.state, dest, remote, user="pf9", now=ctx.now, depth=ctx.depth + 1
    )
