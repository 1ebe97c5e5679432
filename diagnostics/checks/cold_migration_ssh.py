"""Compute-to-compute SSH/scp/rsync failed during a cold migration (F7.6-7.7)."""

from __future__ import annotations

from dataclasses import replace

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of, probes_went_to
from diagnostics.evidence.types import (
    ColdMigrationSshProbe,
    InstanceActions,
    MigrationRecords,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    CheckOutcome,
    Citation,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

COMPUTE_USER = (
    "pf9"  # pf9-ostackhost runs nova-compute as pf9 (failure-signatures §0.10)
)


# which remediation steps an ssh stderr calls for (labels of sig.SSH_STDERR_KINDS)
_PROBLEM = {
    "host key verification failed": "hostkey",
    "public key refused": "publickey",
    "SSH connection refused": "refused",
    "host name does not resolve": "resolve",
    "no route to host": "route",
}
_SRC, _DST = r.host("{source_host}"), r.host("{dest_host}")
_REMEDIES = (
    r.check(_DST, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
            "The destination's real host-key fingerprint, read on the host itself.",
            when="ssh_problem=hostkey"),
    r.check(_SRC, "ssh-keyscan -t ed25519 {ssh_host} | ssh-keygen -lf -",
            "The key that answers on the network: stop unless it shows the same "
            "fingerprint.", when="ssh_problem=hostkey"),
    r.check(_SRC, "sudo -u {user} ssh-keygen -F {ssh_host}",
            "An entry here with another fingerprint is stale: remove it first with "
            "ssh-keygen -R as {user}.", when="ssh_problem=hostkey"),
    r.fix(_SRC,
          "sudo -u {user} ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new "
          "{ssh_host} true",
          "Records the verified key in {user}'s known_hosts; accept-new never replaces a "
          "changed key.", when="ssh_problem=hostkey"),
    r.check(_SRC, "sudo -u {user} ssh -v -o BatchMode=yes {ssh_host} true",
            "Shows which keys {user} offers and which the destination refuses.",
            when="ssh_problem=publickey"),
    r.fix(_SRC, "sudo -u {user} ssh-copy-id {ssh_host}",
          "Installs {user}'s public key in its authorized_keys on {dest_host} (asks for "
          "a password once).", when="ssh_problem=publickey"),
    r.check(_DST, "journalctl -u sshd -n 100 --no-pager",
            "Why sshd is not accepting connections, before a restart hides it.",
            when="ssh_problem=refused"),
    r.fix(_DST, "systemctl restart sshd",
          "Starts sshd again on the destination.", when="ssh_problem=refused"),
    r.check(_SRC, "getent hosts {ssh_host}",
            "The name Nova uses for the destination must resolve on the source.",
            when="ssh_problem=resolve"),
    r.check(_SRC, "ip route get {ssh_host}",
            "The route from the source to the destination's address.",
            when="ssh_problem=route"),
    r.check(_SRC, "sudo -u {user} ssh -o BatchMode=yes {ssh_host} true",
            "Nova's own ssh as {user}; it must exit 0 before a retry."),
)  # fmt: skip


def _classify(stderr: str) -> str:
    for label, pattern in sig.SSH_STDERR_KINDS:
        if pattern.search(stderr):
            return label
    first = stderr.strip().splitlines()[0] if stderr.strip() else "no stderr"
    return f"ssh failed ({first})"


@check(
    id="nova.cold-migration-ssh",
    title="Compute-to-compute SSH failed during the cold migration",
    applies_to={MigrationKind.COLD, MigrationKind.RESIZE},
    root_cause=RootCauseId.COLD_MIGRATION_SSH,
    priority=800,
    step=7,
    summary=(
        "{source_host} could not reach {dest_host} over SSH as user {user} to copy the "
        "disks of {server_name}: {reason}."
    ),
    remediation=_REMEDIES,
    references=("https://docs.openstack.org/nova/latest/admin/ssh-configuration.html",),
)
def cold_migration_ssh(
    server: Server,
    records: MigrationRecords | None,
    probe: ColdMigrationSshProbe | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
) -> CheckOutcome:
    """A cold migration or resize runs `ssh -o BatchMode=yes <dest> mkdir -p ...` and
    then scp/rsync as the compute agent's user (pf9 under PCD). A missing known_hosts
    entry, a refused public key, a closed port 22 or an unresolvable name ends it with
    "not able to execute ssh command" and the ssh stderr. The same ssh run by the probe
    reproducing the error confirms it.

    Nova cuts event details at 255 bytes, so the stderr may end mid-word ("Stderr: 'Host
    key verification "): the cut text still names the kind, at the confidence one source
    supports. "SSH works" is said only when the probe ran and succeeded; without it,
    the check could not check.
    """
    move = move_of(records, server)
    dest = move.dest
    caveats: tuple[str, ...] = ()
    if move.retargeted and probe is not None and not probe.ok:
        # the --target-host's own SSH fails: only its probe speaks of it; the failure
        # texts are the past move's, towards its own destination
        actions, source_logs, server = None, None, replace(server, fault=None)
    elif move.retargeted:
        # the probe went to the --target-host: it says nothing of the past move's
        # destination, which the failure texts are about
        probe, dest, caveats = None, move.failed_at, (probes_went_to(move),)
    texts = gather(actions=actions, server=server, source_logs=source_logs)
    hit = texts.find(sig.SSH_FAILED, sig.DISK_COPY)
    probe_failed = probe is not None and not probe.ok
    if hit is None and not probe_failed and caveats:
        return RuledOut(
            reason=f"SSH to {move.dest} works and the failed move logged no SSH failure"
        )
    if hit is None and not probe_failed:
        if probe is None and not texts.available:
            return Inconclusive(reason="no SSH probe and no failure text")
        if probe is None:
            return CouldNotCheck(
                why="no SSH failure in the failure texts, but the SSH probe between "
                "the hosts did not run",
                needs="SSH to the source hypervisor and a NOPASSWD sudo rule for "
                "`sudo -n -u pf9 ssh -o BatchMode=yes … true`",
            )
        return RuledOut(
            reason="SSH between the hosts works and no SSH failure was logged"
        )
    if hit is not None and hit.match.re is sig.SSH_FAILED and hit.get("stderr"):
        reason = _classify(hit.get("stderr").replace("\\r\\n", "\n"))
    elif probe is not None and probe_failed:
        reason = _classify(probe.stderr)
    elif hit is not None and hit.match.re is sig.SSH_FAILED:
        reason = "ssh failed (its stderr was cut off)"
    else:
        reason = f"the disk copy ({hit.get('cmd') if hit else 'scp'}) failed"
    probe_cite: tuple[Citation, ...] = ()
    if probe is not None and probe_failed:
        probe_cite = (Citation(source=probe.provenance, text=probe.stderr.strip()),)
    return Concluded(
        facts={
            "server_name": server.name,
            "source_host": move.source
            or (probe.source if probe else "the source host"),
            "dest_host": dest or (probe.dest if probe else "the destination host"),
            "user": probe.user if probe is not None else COMPUTE_USER,
            "reason": reason,
            "ssh_problem": _PROBLEM.get(reason, ""),
            "ssh_host": (hit.get("target") if hit is not None else "")
            or dest
            or (probe.dest if probe else ""),
        },
        cites=probe_cite + cites(hit),
        confidence=Confidence.CONFIRMED if probe_failed else Confidence.LIKELY,
        not_ruled_out=caveats,
    )
