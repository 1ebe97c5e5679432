"""Injected outages: one API family (or the SSH hosts) failing or hanging, from region state.

``state.faults[family]`` holds at most one :class:`Fault` per family. The HTTP side
(``sim.api.faults``) and the SSH fleet read it, so a test or ``sim up --fault`` can make
one service answer 500 with its own error body, 503 as a load balancer with no backend
does, or accept the connection and never answer; the SSH hosts can refuse connections or
accept them and never send a banner. Keystone can also refuse the credentials (401) and
revoke every token it issued, at once or after a number of requests (a token revoked
mid-run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Family = Literal[
    "keystone", "nova", "placement", "neutron", "cinder", "kubernetes", "ssh"
]
FAMILIES: tuple[Family, ...] = (
    "keystone", "nova", "placement", "neutron", "cinder", "kubernetes", "ssh",
)  # fmt: skip
HTTP_MODES = ("500", "503", "hang")
SSH_MODES = ("refused", "hang")
# Keystone only: "401" refuses every password and revokes the tokens already issued;
# "revoke" revokes them once (a fresh authentication still works)
KEYSTONE_MODES = (*HTTP_MODES, "401", "revoke")


class FaultError(ValueError):
    """A family or mode the simulator does not know."""


@dataclass
class Fault:
    """One family's outage. ``after`` requests of that family are still answered normally
    (0: from the first); ``match`` limits it to paths matching the regular expression."""

    mode: str
    after: int = 0
    match: str | None = None
    seen: int = field(default=0, compare=False)
    # Keystone's 401: once in force it stays so for every path (``match`` only says
    # which request trips it: "revoked when the first Placement call arrives")
    tripped: bool = field(default=False, compare=False)

    def applies(self, path: str) -> bool:
        """Count this request; True once the fault is in force for it."""
        if self.match is not None and not re.search(self.match, path):
            return False
        self.seen += 1
        return self.seen > self.after


def modes_of(family: str) -> tuple[str, ...]:
    if family == "ssh":
        return SSH_MODES
    if family == "keystone":
        return KEYSTONE_MODES
    if family in FAMILIES:
        return HTTP_MODES
    raise FaultError(f"unknown family {family!r} (one of {', '.join(FAMILIES)})")


def parse_fault(text: str) -> tuple[str, Fault]:
    """``family=mode`` or ``family=mode@after`` (``sim up --fault``)."""
    family, eq, rest = text.partition("=")
    mode, at, after = rest.partition("@")
    if not eq or not mode:
        raise FaultError(f"--fault {text!r}: expected FAMILY=MODE[@AFTER]")
    allowed = modes_of(family)
    if mode not in allowed:
        raise FaultError(f"--fault {text!r}: {family} modes are {', '.join(allowed)}")
    if at and not after.isdigit():
        raise FaultError(f"--fault {text!r}: AFTER must be a number of requests")
    return family, Fault(mode=mode, after=int(after) if at else 0)
