"""Collectors that read the hypervisors over SSH (steps 5, 7 and 8 of the runbook).

Each runs commands from ``host_commands`` through the diagnosis' ``HostShell``
(``ctx.clients.hosts``) and returns evidence citing ``<host>$ <command>``, or
``Unavailable`` with the SSH reason ("SSH timeout to cmp-b-01 (10.0.0.12:22) after 5s").
Every string taken from a host is redacted before it enters the evidence.

Step 8 (log search) lives in ``host_logs`` and registers with this module's import.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from diagnostics.evidence import host_commands as cmd
from diagnostics.evidence import host_logs  # noqa: F401 - registers the step-8 collectors
from diagnostics.evidence.base import CollectContext, collector
from diagnostics.evidence.host_common import guarded, host_shell, refused, where
from diagnostics.evidence.redact import redact
from diagnostics.evidence.ssh import CommandResult, HostShell
from diagnostics.evidence.types import (
    CertificateInfo,
    ColdMigrationSshProbe,
    CpuInfo,
    DestCpu,
    DestDisk,
    DestHostServices,
    DestLeftovers,
    DestStorage,
    HostServices,
    LibvirtTlsProbe,
    SourceCpu,
    SourceHostServices,
    Unavailable,
)

C = TypeVar("C", bound=CpuInfo)
H = TypeVar("H", bound=HostServices)
_PKI = "/etc/pki/libvirt"


# ---- step 5 -------------------------------------------------------------------------------


async def _cpu(kind: type[C], shell: HostShell, host: str) -> C | Unavailable:
    result = await shell.run(host, cmd.lscpu())
    parsed = cmd.parse_lscpu(result.stdout)
    if not parsed.model and not parsed.flags:
        return refused(host, result) or Unavailable(
            reason=f"lscpu on {host} printed no CPU model", detail=redact(result.stderr)
        )
    return kind(
        provenance=where(host, result),
        host=host,
        model=redact(parsed.model),
        vendor=redact(parsed.vendor),
        flags=parsed.flags,
    )


@collector(SourceCpu)
async def source_cpu(ctx: CollectContext) -> SourceCpu | Unavailable:
    return await guarded(
        ctx, ctx.source_host, "source", lambda s, h: _cpu(SourceCpu, s, h)
    )


@collector(DestCpu)
async def dest_cpu(ctx: CollectContext) -> DestCpu | Unavailable:
    return await guarded(
        ctx, ctx.dest_host, "destination", lambda s, h: _cpu(DestCpu, s, h)
    )


@collector(DestDisk)
async def dest_disk(ctx: CollectContext) -> DestDisk | Unavailable:
    async def body(shell: HostShell, host: str) -> DestDisk | Unavailable:
        path = shell.settings.instances_path
        result = await shell.run(host, cmd.df(path))
        row = cmd.parse_df(result.stdout)
        if row is None:
            return refused(host, result) or Unavailable(
                reason=f"df of {path} on {host} failed", detail=redact(result.stderr)
            )
        return DestDisk(
            provenance=where(host, result),
            host=host,
            path=path,
            available_bytes=row.available_bytes,
            size_bytes=row.size_bytes,
        )

    return await guarded(ctx, ctx.dest_host, "destination", body)


# ---- step 7 -------------------------------------------------------------------------------


async def _services(kind: type[H], shell: HostShell, host: str) -> H | Unavailable:
    units = shell.settings.units
    result = await shell.run(host, cmd.systemctl_is_active(units))
    if not result.stdout.strip():
        return refused(host, result) or Unavailable(
            reason=f"systemctl on {host} gave no answer", detail=redact(result.stderr)
        )
    return kind(
        provenance=where(host, result),
        host=host,
        units=cmd.parse_is_active(units, result.stdout),
    )


@collector(SourceHostServices)
async def source_host_services(ctx: CollectContext) -> SourceHostServices | Unavailable:
    return await guarded(
        ctx, ctx.source_host, "source", lambda s, h: _services(SourceHostServices, s, h)
    )


@collector(DestHostServices)
async def dest_host_services(ctx: CollectContext) -> DestHostServices | Unavailable:
    return await guarded(
        ctx,
        ctx.dest_host,
        "destination",
        lambda s, h: _services(DestHostServices, s, h),
    )


async def _cert_and_clock(
    shell: HostShell, host: str, pem: str
) -> tuple[CertificateInfo | None, CommandResult, CommandResult]:
    cert, clock = await asyncio.gather(
        shell.run(host, cmd.openssl_x509(pem)), shell.run(host, cmd.date_utc())
    )
    return cmd.parse_x509(pem, redact(cert.stdout)), cert, clock


@collector(LibvirtTlsProbe)
async def libvirt_tls_probe(ctx: CollectContext) -> LibvirtTlsProbe | Unavailable:
    """virsh over qemu+tls and nc from the source; certificates and clocks of both sides."""
    shell = host_shell(ctx)
    if isinstance(shell, Unavailable):
        return shell
    source, dest = ctx.source_host, ctx.dest_host
    if not source or not dest:
        return Unavailable(reason="needs both the source and the destination host")

    async def from_source(sh: HostShell, host: str) -> tuple[CommandResult, ...]:
        return tuple(
            await asyncio.gather(
                sh.run(host, cmd.virsh_tls_version(dest)),
                sh.run(host, cmd.nc_port(dest)),
                sh.run(host, cmd.openssl_x509(f"{_PKI}/clientcert.pem")),
                sh.run(host, cmd.date_utc()),
            )
        )

    async def on_dest(sh: HostShell, host: str) -> tuple[CommandResult, ...]:
        return tuple(
            await asyncio.gather(
                sh.run(host, cmd.openssl_x509(f"{_PKI}/servercert.pem")),
                sh.run(host, cmd.date_utc()),
            )
        )

    src, dst = await asyncio.gather(
        guarded(ctx, source, "source", from_source),
        guarded(ctx, dest, "destination", on_dest),
    )
    if isinstance(src, Unavailable):
        return src
    virsh, nc, client_cert, source_clock = src
    if (missing := refused(source, virsh)) is not None:
        return missing
    cites = [where(source, r) for r in src]
    server_cert = dest_clock = None
    if isinstance(dst, Unavailable):
        cites.append(f"{dest}: {dst.reason}")
    else:
        server_cert = cmd.parse_x509(f"{_PKI}/servercert.pem", redact(dst[0].stdout))
        dest_clock = cmd.parse_date(dst[1].stdout)
        cites += [where(dest, r) for r in dst]
    return LibvirtTlsProbe(
        provenance="; ".join(cites),
        source=source,
        dest=dest,
        connect_ok=virsh.exit_code == 0,
        connect_output=redact(
            ""
            if virsh.exit_code == 0
            else cmd.parse_virsh_error(virsh.stdout, virsh.stderr)
        ),
        port_open=cmd.parse_nc(nc.exit_code, nc.stderr),
        dest_server_cert=server_cert,
        source_client_cert=cmd.parse_x509(
            f"{_PKI}/clientcert.pem", redact(client_cert.stdout)
        ),
        dest_clock=dest_clock,
        source_clock=cmd.parse_date(source_clock.stdout),
        privileged=shell.settings.sudo or shell.settings.user == "root",
    )


@collector(ColdMigrationSshProbe)
async def cold_migration_ssh_probe(
    ctx: CollectContext,
) -> ColdMigrationSshProbe | Unavailable:
    """``ssh -o BatchMode=yes <dest> true`` as the compute user, from the source."""
    dest = ctx.dest_host
    if not dest:
        return Unavailable(reason="no destination host known for this migration")

    async def body(shell: HostShell, host: str) -> ColdMigrationSshProbe | Unavailable:
        user = shell.settings.compute_user
        result = await shell.run(host, cmd.ssh_trust(user, dest))
        stderr = cmd.parse_ssh_stderr(result.stderr)
        if result.exit_code != 0 and (missing := refused(host, result)) is not None:
            return missing
        return ColdMigrationSshProbe(
            provenance=where(host, result),
            source=host,
            dest=dest,
            user=user,
            ok=result.exit_code == 0,
            stderr=redact(stderr),
        )

    return await guarded(ctx, ctx.source_host, "source", body)


@collector(DestStorage)
async def dest_storage(ctx: CollectContext) -> DestStorage | Unavailable:
    async def body(shell: HostShell, host: str) -> DestStorage | Unavailable:
        iscsi, multipath = await asyncio.gather(
            shell.run(host, cmd.iscsiadm_session()), shell.run(host, cmd.multipath_ll())
        )
        if (missing := refused(host, iscsi)) is not None:
            return missing
        return DestStorage(
            provenance=f"{where(host, iscsi)}; {where(host, multipath)}",
            host=host,
            iscsi_sessions=tuple(
                redact(s) for s in cmd.parse_iscsi_sessions(iscsi.stdout)
            ),
            multipath=redact(multipath.stdout.strip())
            if multipath.exit_code == 0
            else "",
        )

    return await guarded(ctx, ctx.dest_host, "destination", body)


@collector(DestLeftovers)
async def dest_leftovers(ctx: CollectContext) -> DestLeftovers | Unavailable:
    """Is the VM's domain defined, or its instance directory present, on the destination?"""
    instance_name = ctx.server.instance_name
    if not instance_name:
        return Unavailable(reason="instance name unknown (needs admin role)")

    async def body(shell: HostShell, host: str) -> DestLeftovers | Unavailable:
        directory = f"{shell.settings.instances_path.rstrip('/')}/{ctx.server.id}"
        domains, test = await asyncio.gather(
            shell.run(host, cmd.virsh_list_all()),
            shell.run(host, cmd.test_dir(directory)),
        )
        for result in (domains, test):
            if (missing := refused(host, result)) is not None:
                return missing
        if domains.exit_code != 0 or test.exit_code not in (0, 1):
            return Unavailable(
                reason=f"could not list domains or test {directory} on {host}",
                detail=redact(domains.stderr + test.stderr),
            )
        return DestLeftovers(
            provenance=f"{where(host, domains)}; {where(host, test)}",
            host=host,
            domain_defined=instance_name in cmd.parse_virsh_list(domains.stdout),
            instance_dir_exists=test.exit_code == 0,
            instance_dir=directory,
        )

    return await guarded(ctx, ctx.dest_host, "destination", body)
