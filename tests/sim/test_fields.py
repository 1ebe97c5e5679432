"""Response fields declared with the microversion that adds them: who sees which, when."""

from __future__ import annotations

import pytest

from sim.api.microversion import Microversion
from sim.api.nova.fields import Field


def _field(**versions: str) -> Field[object]:
    return Field("key", lambda _ctx: None, **versions)


@pytest.mark.parametrize(
    ("versions", "served", "is_admin", "shown"),
    [
        ({}, "2.1", False, True),  # no versions: everyone, always
        ({"since": "2.9"}, "2.8", True, False),
        ({"since": "2.9"}, "2.9", False, True),
        ({"admin": "2.16"}, "2.16", False, False),  # admin only: never for members
        ({"admin": "2.16"}, "2.15", True, False),
        ({"admin": "2.16"}, "2.16", True, True),
        ({"admin": "2.3", "since": "2.90"}, "2.3", True, True),
        ({"admin": "2.3", "since": "2.90"}, "2.89", False, False),
        ({"admin": "2.3", "since": "2.90"}, "2.90", False, True),
        ({"until": "2.47"}, "2.46", False, True),
        ({"until": "2.47"}, "2.47", True, False),  # a newer declaration takes over
        ({"since": "2.10"}, "2.9", False, False),  # numeric, not string, order
    ],
)
def test_field_visibility(
    versions: dict[str, str], served: str, is_admin: bool, shown: bool
) -> None:
    assert _field(**versions).shown(Microversion.parse(served), is_admin) is shown
