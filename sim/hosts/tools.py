"""The read-only tools a simulated hypervisor has, answering from the scenario's host.

Each tool is ``tool(ctx, args) -> Result`` and prints what the real tool prints (formats in
docs/host-commands.md): systemctl, lscpu, df, date, openssl, iscsiadm, multipath, grep.
The network probes between hosts (virsh, nc, ssh) live in ``sim/hosts/net.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Protocol

from sim.region.state import RegionState
from sim.scenario.model import Certificate, Host
from sim.scenario.times import resolve_time

SERVER_CERT = "/etc/pki/libvirt/servercert.pem"
CLIENT_CERT = "/etc/pki/libvirt/clientcert.pem"
CA_CERT = "/etc/pki/CA/cacert.pem"
CINDER_VOLUME_UNIT = "pf9-cindervolume-base"
_SYSTEM_DIRS = (
    "/",
    "/etc",
    "/etc/pki",
    "/etc/pki/libvirt",
    "/etc/pki/CA",
    "/opt",
    "/opt/pf9",
    "/tmp",
    "/root",
    "/home",
    "/var",
    "/var/log",
    "/var/log/pf9",
    "/var/log/libvirt",
    "/var/log/libvirt/qemu",
    "/usr",
    "/usr/bin",
)


@dataclass(frozen=True, slots=True)
class Result:
    """What a command left behind: exit status, output, and how long it would have run."""

    code: int
    out: str = ""
    err: str = ""
    seconds: float = (
        0.0  # a hang (TCP timeout) that an outer ``timeout N`` can cut short
    )


class Interpreter(Protocol):
    """Runs a command line on a host: how ``ssh`` reaches the next hop's shell."""

    def __call__(
        self,
        state: RegionState,
        host: str,
        line: str,
        *,
        user: str = ...,
        now: datetime | None = ...,
        depth: int = ...,
    ) -> Result: ...


@dataclass(frozen=True, slots=True)
class Context:
    state: RegionState
    host: str
    user: str
    now: datetime  # wall clock of the region (the host adds its clock skew)
    interpreter: (
        Interpreter  # the shell running this command (ssh runs it on the next hop)
    )
    depth: int = 0

    @property
    def spec(self) -> Host:
        return self.state.scenario.hosts[self.host]

    @property
    def host_now(self) -> datetime:
        return self.now + timedelta(seconds=self.spec.clock_skew_seconds)


Tool = Callable[[Context, list[str]], Result]


def usage_error(tool: str, option: str, code: int = 1, usage: str = "") -> Result:
    """GNU-style complaint about an option the tool does not have."""
    if option.startswith("--"):
        first = f"{tool}: unrecognized option '{option}'"
    else:
        first = f"{tool}: invalid option -- '{option.lstrip('-')[:1]}'"
    lines = [
        first,
        *([usage] if usage else []),
        f"Try '{tool} --help' for more information.",
    ]
    return Result(code, err="\n".join(lines) + "\n")


# --- the host's files ------------------------------------------------------------------


def log_files(ctx: Context) -> dict[str, list[str]]:
    """path -> lines of every log file on the host (multi-line entries split)."""
    files = {}
    for path, rendered in ctx.state.host_logs.get(ctx.host, {}).items():
        files[path] = (
            "\n".join(r.text for r in rendered).split("\n") if rendered else []
        )
    return files


def instance_dirs(ctx: Context) -> set[str]:
    """Instance directories Nova keeps for servers on this host, plus leftovers."""
    base = ctx.spec.instances_path.rstrip("/")
    found = {
        f"{base}/{s['id']}" for s in ctx.state.servers.values() if s["host"] == ctx.host
    }
    found |= {d if d.startswith("/") else f"{base}/{d}" for d in ctx.spec.instance_dirs}
    return found | {f"{base}/_base", f"{base}/locks"}


def directories(ctx: Context) -> set[str]:
    """Every directory that exists on the host (as far as the probes can tell)."""
    dirs = set(_SYSTEM_DIRS) | instance_dirs(ctx)
    for path in [*log_files(ctx), *instance_dirs(ctx), ctx.spec.instances_path]:
        dirs |= {str(p) for p in PurePosixPath(path).parents}
    dirs.add(ctx.spec.instances_path.rstrip("/") or "/")
    return dirs


def certificates(state: RegionState, host_name: str) -> dict[str, Certificate]:
    """The libvirt TLS certificates on a host; unset ones are valid and named after it."""
    host = state.scenario.hosts[host_name]
    tls = host.tls
    default = Certificate(
        subject_cn=host_name,
        sans=[host_name, f"IP:{host.host_ip}"],
        issuer_cn=tls.ca_issuer_cn,
    )
    return {
        SERVER_CERT: tls.server_cert or default,
        CLIENT_CERT: tls.client_cert
        or Certificate(subject_cn=host_name, issuer_cn=tls.ca_issuer_cn),
        CA_CERT: Certificate(
            subject_cn=tls.ca_issuer_cn,
            issuer_cn=tls.ca_issuer_cn,
            not_before="-3650d",
            not_after="+3650d",
        ),
    }


def unit_state(host: Host, unit: str) -> str:
    """systemctl's word for a unit; the cinder-volume unit runs on storage-role hosts."""
    unit = unit.removesuffix(".service")
    if unit in host.units:
        return host.units[unit]
    return "active" if unit == CINDER_VOLUME_UNIT and host.cinder_volume else "inactive"


# --- tools -----------------------------------------------------------------------------


def systemctl(ctx: Context, args: list[str]) -> Result:
    quiet, words, options_done = False, [], False
    for arg in args:
        if arg == "--" and not options_done:
            options_done = True
        elif arg.startswith("-") and not options_done:
            if arg in ("-q", "--quiet"):
                quiet = True
            elif arg != "--no-pager":
                return Result(
                    1, err=usage_error("systemctl", arg).err.splitlines()[0] + "\n"
                )
        else:
            words.append(arg)
    if not words:
        return Result(1, err="Too few arguments.\n")
    if words[0] != "is-active":
        return Result(1, err=f"Unknown command verb '{words[0]}'.\n")
    if len(words) == 1:
        return Result(1, err="Too few arguments.\n")
    states = [unit_state(ctx.spec, unit) for unit in words[1:]]
    out = "" if quiet else "".join(f"{s}\n" for s in states)
    # systemd: 0 when at least one of the units is active
    return Result(0 if "active" in states else 3, out=out)


_DEFAULT_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm "
    "constant_tsc rep_good nopl xtopology nonstop_tsc cpuid pni pclmulqdq vmx "
    "ssse3 fma cx16 pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx "
    "f16c rdrand lahf_lm abm 3dnowprefetch fsgsbase bmi1 hle avx2 smep bmi2 erms "
    "invpcid rtm avx512f avx512dq rdseed adx smap clflushopt clwb avx512cd sha_ni "
    "avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves arat pku ospke"
)


def lscpu(ctx: Context, args: list[str]) -> Result:
    if args:
        return usage_error("lscpu", args[0])
    cpu, vcpus = ctx.spec.cpu, max(ctx.spec.resources.vcpus, 1)
    amd = cpu.vendor.lower().startswith("amd")
    sockets = 2 if vcpus >= 4 else 1
    threads = 2 if vcpus >= 2 * sockets else 1
    rows = [
        ("Architecture", cpu.arch),
        ("CPU op-mode(s)", "32-bit, 64-bit"),
        ("Address sizes", "46 bits physical, 57 bits virtual"),
        ("Byte Order", "Little Endian"),
        ("CPU(s)", str(vcpus)),
        ("On-line CPU(s) list", f"0-{vcpus - 1}" if vcpus > 1 else "0"),
        ("Vendor ID", "AuthenticAMD" if amd else "GenuineIntel"),
        ("Model name", cpu.model),
        ("CPU family", "25" if amd else "6"),
        ("Model", "1" if amd else "106"),
        ("Thread(s) per core", str(threads)),
        ("Core(s) per socket", str(max(vcpus // (sockets * threads), 1))),
        ("Socket(s)", str(sockets)),
        ("Stepping", "1" if amd else "6"),
        ("BogoMIPS", "4000.00"),
        ("Flags", " ".join(cpu.flags) or _DEFAULT_FLAGS),
        ("Virtualization", "AMD-V" if amd else "VT-x"),
        ("NUMA node(s)", str(sockets)),
    ]
    return Result(0, out="".join(f"{k + ':':<41}{v}\n" for k, v in rows))


def df(ctx: Context, args: list[str]) -> Result:
    block, paths, rest = 1024, [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            paths += rest
            break
        if arg in ("-P", "--portability"):
            continue
        if arg.startswith(("-B", "--block-size=")):
            value = arg.removeprefix("--block-size=").removeprefix("-B") or (
                rest.pop(0) if rest else ""
            )
            if not value.isdigit() or int(value) == 0:
                return Result(1, err=f"df: invalid block size: '{value}'\n")
            block = int(value)
        elif arg.startswith("-") and arg != "-":
            return usage_error("df", arg)
        else:
            paths.append(arg)
    base = ctx.spec.instances_path.rstrip("/") or "/"
    known = (
        directories(ctx) | set(log_files(ctx)) | set(certificates(ctx.state, ctx.host))
    )
    rows, err, code = [], "", 0
    for path in paths or ["/"]:
        norm = str(PurePosixPath(path)) if path.startswith("/") else path
        if norm not in known:
            err += f"df: {path}: No such file or directory\n"
            code = 1
            continue
        if norm == base or norm.startswith(base + "/"):
            size, free = ctx.spec.disk_size_bytes, ctx.spec.disk_free_bytes
            rows.append(("/dev/mapper/vg_data-instances", size, free, base))
        else:
            rows.append(("/dev/sda2", 107374182400, 42949672960, "/"))
    header = (
        "Filesystem",
        f"{block}-blocks",
        "Used",
        "Available",
        "Capacity",
        "Mounted on",
    )
    table = [header]
    for device, size, free, mount in rows:
        used = max(size - free, 0)
        pct = math.ceil(used * 100 / (used + free)) if used + free else 0
        table.append(
            (
                device,
                str(size // block),
                str(used // block),
                str(free // block),
                f"{pct}%",
                mount,
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    lines = [
        f"{r[0]:<{widths[0]}} "
        + " ".join(f"{r[i]:>{widths[i]}}" for i in range(1, 5))
        + f" {r[5]}"
        for r in table
    ]
    out = "\n".join(lines) + "\n" if rows else ""
    return Result(code, out=out, err=err)


def date(ctx: Context, args: list[str]) -> Result:
    fmt = "%a %b %e %H:%M:%S %Z %Y"
    for arg in args:
        if arg in ("-u", "--utc", "--universal"):
            continue
        if arg.startswith("+"):
            fmt = arg[1:]
        elif arg.startswith("-"):
            return usage_error("date", arg)
        else:
            return Result(1, err=f"date: invalid date '{arg}'\n")
    try:
        text = ctx.host_now.strftime(fmt)
    except (ValueError, UnicodeError):
        text = fmt
    return Result(0, out=text + "\n")


def _openssl_time(at: datetime) -> str:
    return at.strftime("%b ") + f"{at.day:2d}" + at.strftime(" %H:%M:%S %Y GMT")


def _san(cert: Certificate) -> str:
    return ", ".join(
        f"IP Address:{s[3:]}" if s.startswith("IP:") else f"DNS:{s}" for s in cert.sans
    )


def openssl(ctx: Context, args: list[str]) -> Result:
    if not args or args[0] != "x509":
        name = args[0] if args else ""
        return Result(1, err=f"Invalid command '{name}'; type \"help\" for a list.\n")
    prints: list[str] = []
    path = None
    rest = args[1:]
    while rest:
        arg = rest.pop(0)
        if arg in ("-noout", "-subject", "-issuer", "-startdate", "-enddate", "-dates"):
            prints.append(arg)
        elif arg in ("-in", "-ext", "-nameopt") and rest:
            value = rest.pop(0)
            if arg == "-in":
                path = value
            elif arg == "-ext":
                prints.append("ext:" + value)
        else:
            return Result(
                1,
                err=f"x509: Unknown option or message digest: {arg}\n"
                "x509: Use -help for summary.\n",
            )
    cert = certificates(ctx.state, ctx.host).get(path or "")
    if cert is None:
        where = path or "<stdin>"
        return Result(
            1,
            err=(
                f"Could not open file or uri for loading certificate from {where}\n"
                "40D7EAED347F0000:error:80000002:system library:file_open:No such file or "
                f"directory:../providers/implementations/storemgmt/file_store.c:266:calling stat({where})\n"
                "Unable to load certificate\n"
            ),
        )
    now = ctx.state.now
    lines = []
    for item in prints:
        if item == "-subject":
            lines.append(f"subject=CN = {cert.subject_cn}")
        elif item == "-issuer":
            lines.append(f"issuer=CN = {cert.issuer_cn}")
        elif item in ("-startdate", "-dates"):
            lines.append(
                "notBefore=" + _openssl_time(resolve_time(cert.not_before, now))
            )
        if item in ("-enddate", "-dates"):
            lines.append("notAfter=" + _openssl_time(resolve_time(cert.not_after, now)))
        elif item == "ext:subjectAltName" and cert.sans:
            lines += ["X509v3 Subject Alternative Name: ", "    " + _san(cert)]
    return Result(0, out="".join(f"{line}\n" for line in lines))


def iscsiadm(ctx: Context, args: list[str]) -> Result:
    mode = None
    for i, arg in enumerate(args):
        if arg in ("-m", "--mode") and i + 1 < len(args):
            mode = args[i + 1]
    if mode == "session" and len(args) == 2:
        sessions = ctx.spec.iscsi_sessions
        if not sessions:
            return Result(21, err="iscsiadm: No active sessions.\n")
        return Result(0, out="".join(f"{s}\n" for s in sessions))
    if mode == "node" and len(args) == 2:
        return Result(21, err="iscsiadm: No records found\n")
    bad = next(
        (a for a in args if a.startswith("-") and a not in ("-m", "--mode")), None
    )
    if bad:
        return Result(7, err=f"iscsiadm: unrecognized option '{bad}'\n")
    return Result(
        7,
        err="iscsiadm: You must specify a mode\n"
        if mode is None
        else f"iscsiadm: unsupported mode '{mode}'\n",
    )


def multipath(ctx: Context, args: list[str]) -> Result:
    if args not in (["-ll"], ["-l"]):
        return Result(1, err=f"multipath: invalid argument {' '.join(args)!r}\n")
    text = ctx.spec.multipath
    return Result(0, out=text if not text or text.endswith("\n") else text + "\n")
