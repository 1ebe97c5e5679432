"""Compute API microversion negotiation, as nova.api.openstack.api_version_request does it.

A request names its version with ``OpenStack-API-Version: compute 2.60`` (or the legacy
``X-OpenStack-Nova-API-Version: 2.60``); ``latest`` means the maximum; no header means
2.1. A malformed version is a 400, one outside [min, max] a 406. Every response echoes
the version it was served at and says it varies on those headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

MIN_VERSION = "2.1"
NEW_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
VARY = f"{NEW_HEADER}, {LEGACY_HEADER}"

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Microversion:
    """A ``major.minor`` compute API version that compares numerically (2.9 < 2.10)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Microversion:
        """Parse ``2.60``; raises ValueError on anything else."""
        match = _FORMAT.match(text.strip())
        if match is None:
            raise ValueError(text)
        return cls(int(match[1]), int(match[2]))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Microversion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __ge__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Microversion.parse(other)
        if not isinstance(other, Microversion):
            return NotImplemented
        return (self.major, self.minor) >= (other.major, other.minor)

    def at_least(self, text: str) -> bool:
        """True when this version is ``text`` or newer."""
        return self >= Microversion.parse(text)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class VersionError(Exception):
    """A version the API cannot serve: ``status`` is 400 (malformed) or 406 (unsupported)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def requested_version(headers: dict[str, str] | object) -> str | None:
    """The compute version a request asked for, or None when it did not say."""
    get = getattr(headers, "get")  # noqa: B009 - works for dict and CIMultiDict alike
    new = get(NEW_HEADER)
    if new:
        for item in str(new).split(","):
            parts = item.strip().split()
            if len(parts) == 2 and parts[0].lower() == "compute":
                return str(parts[1])
    legacy = get(LEGACY_HEADER)
    return str(legacy) if legacy else None


def negotiate(requested: str | None, maximum: str) -> Microversion:
    """The version to serve, or VersionError with Nova's message."""
    top = Microversion.parse(maximum)
    if requested is None:
        return Microversion.parse(MIN_VERSION)
    if requested.strip().lower() == "latest":
        return top
    try:
        wanted = Microversion.parse(requested)
    except ValueError:
        raise VersionError(
            400,
            f"API Version String {requested} is of invalid format. "
            "Must be of format MajorNum.MinorNum.",
        ) from None
    if wanted < Microversion.parse(MIN_VERSION) or top < wanted:
        raise VersionError(
            406,
            f"Version {wanted} is not supported by the API. "
            f"Minimum is {MIN_VERSION} and maximum is {top}.",
        )
    return wanted


def response_headers(version: Microversion) -> dict[str, str]:
    """The headers Nova sets on every versioned response."""
    return {
        NEW_HEADER: f"compute {version}",
        LEGACY_HEADER: str(version),
        "Vary": VARY,
    }
