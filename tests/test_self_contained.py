"""The suite needs nothing beside the checkout: no test reads the shared reference set directly."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests import reference

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# "../shared", "/work/shared", or a path built as `... / "shared"` / "shared/reference/...".
_OUTSIDE = re.compile(
    r"\.\./shared\b|/work/shared\b|/\s*[\"']shared[\"']|[\"']shared/(reference|root-causes)"
)


def _test_sources() -> list[Path]:
    files = [
        p
        for p in TESTS.rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".toml"}
    ]
    return [*files, ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "pyproject.toml"]


def test_no_test_reads_outside_the_repository() -> None:
    """A fresh clone has no ../shared; every path a test opens must be under the repo."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _test_sources()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert offenders == [], (
        "copy the file under tests/reference/ instead:\n" + "\n".join(offenders)
    )


def test_the_guard_catches_each_form() -> None:
    """The pattern above would flag every way the suite used to reach the shared set."""
    for line in (
        'REF = Path(__file__).resolve().parents[3] / "shared" / "reference"',
        'Path(x).parents[3] / "shared/reference/nova/notification_samples"',
        "open('../shared/root-causes.md')",
        'Path("/work/shared/slack.md")',
    ):
        assert _OUTSIDE.search(line), line
    assert not _OUTSIDE.search('f"{SRC} is not on shared storage"')


def test_reference_files_are_unchanged_copies() -> None:
    """Every vendored file is listed in SHA256SUMS with the digest of the upstream copy."""
    listed = {}
    for row in (reference.HERE / "SHA256SUMS").read_text().splitlines():
        digest, name = row.split(maxsplit=1)
        listed[name] = digest
    ours = {"SHA256SUMS", "README.md", "__init__.py"}  # this folder's own files
    present = {
        str(path.relative_to(reference.HERE))
        for path in reference.HERE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
        if not (path.parent == reference.HERE and path.name in ours)
    }
    assert present == set(listed)
    for name, digest in listed.items():
        assert (
            hashlib.sha256((reference.HERE / name).read_bytes()).hexdigest() == digest
        ), name
