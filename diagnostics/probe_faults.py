"""A probe that failed for its own reasons is never evidence about the cloud.

Pure functions over probe evidence, shared by the checks (which turn a self-failure into
``CouldNotCheck``) and the step describers (which must not call it abnormal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diagnostics.evidence.types import LibvirtTlsProbe


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfFailure:
    """The probe failed for its own reasons: says why, and the access it needs."""

    why: str
    needs: str


# virsh run as an unprivileged user cannot read the root-only client key: libvirt says
# "Cannot read private key '…': Permission denied" (virNetTLSContextCheckCertFile) or
# "Unable to set x509 key and certificate: …: Error while reading file." (gnutls)
_CLIENT_CREDENTIALS = re.compile(
    r"Unable to set x509 key and certificate|Error while reading file"
    r"|Cannot read (?:CA certificate|certificate|private key) '[^']+': Permission denied"
    r"|Permission denied"
)
_UNRESOLVED = re.compile(
    r"Unable to resolve address|Could not resolve hostname|Name or service not known"
    r"|Temporary failure in name resolution"
)
REFUSED = re.compile(r"Connection refused")
TIMED_OUT = re.compile(r"Connection timed out|TIMEOUT|timed out")


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "no output")


def probe_self_failure(probe: LibvirtTlsProbe) -> SelfFailure | None:
    """The probe's own failure (not the cloud's): unreadable credentials, unresolved name."""
    if probe.connect_ok:
        return None
    out = probe.connect_output
    line = first_line(out)
    if not probe.privileged and _CLIENT_CREDENTIALS.search(out):
        return SelfFailure(
            why=f"virsh on {probe.source} as the diagnosis user cannot read the libvirt "
            f"client credentials ({line[:200]})",
            needs="ssh.sudo: true with a NOPASSWD sudo rule for `virsh -r -c "
            "qemu+tls://<dest>/system version`, or read access to "
            "/etc/pki/libvirt/private/clientkey.pem for the diagnosis user",
        )
    if _UNRESOLVED.search(out):
        return SelfFailure(
            why=f"{probe.source} cannot resolve {probe.dest} ({line[:200]})",
            needs=f"a name for {probe.dest} that resolves on {probe.source} (DNS or "
            "/etc/hosts); Nova's own logs show whether the migration met the same",
        )
    return None
