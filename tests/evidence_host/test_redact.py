"""Secrets never survive redaction: a corpus of real-looking config and log lines."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.redact import (
    MASK,
    is_secret_key,
    redact,
    redact_json,
    redact_lines,
)
from diagnostics.evidence.types import Unavailable
from tests.redaction_corpus import (
    KEYRING_LINES,
    MULTI_LINE,
    ORPHAN_BODY_LINE,
    ORPHAN_SECRETS,
    PEM_LINES,
    SECRETS,
    SINGLE_LINE,
    leaks,
    traceback_text,
)

OSLO = "2026-11-25 19:02:11.532 3521 ERROR nova.compute.manager [req-1 u p - - default default] "

PEM = """some text before
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAuX1SECRETKEYMATERIALxyz
abcdefghijklmnop
-----END RSA PRIVATE KEY-----
after"""


@pytest.mark.parametrize(
    ("text", "secret"), SINGLE_LINE, ids=[c[1] for c in SINGLE_LINE]
)
def test_secret_is_masked(text, secret):
    """The secret is gone and the mask is there, alone and inside an oslo.log line."""
    for line in (text, OSLO + text):
        out = redact(line)
        assert secret not in out
        assert MASK in out


@pytest.mark.parametrize(
    ("text", "secret"), SINGLE_LINE, ids=[c[1] for c in SINGLE_LINE]
)
def test_secret_is_masked_inside_json_text(text, secret):
    """In a JSON string, and in JSON inside a JSON string (oslo's envelope, dead letters)."""
    once = json.dumps({"message": text})
    twice = json.dumps({"oslo.message": once})
    for wrapped in (once, twice):
        assert secret not in redact(wrapped)


@pytest.mark.parametrize(
    ("lines", "secrets"), MULTI_LINE, ids=["pem", "openssh", "keyring"]
)
def test_blocks_logged_over_several_lines_are_masked(lines, secrets):
    """A key whose body spans log records loses it; each record keeps its oslo prefix."""
    logged = [OSLO + line for line in lines]
    out = redact_lines(logged)
    assert leaks(out) == []
    assert len(out) == len(logged)
    assert all(line.startswith(OSLO) for line in out)
    assert leaks([redact("\n".join(lines))]) == []  # and as one multi-line string


def test_text_after_a_logged_key_is_kept():
    """The block ends at END: the lines after it are shown (redacted) as usual."""
    out = redact_lines(
        [*(OSLO + line for line in PEM_LINES), OSLO + "Migration failed"]
    )
    assert out[-1] == OSLO + "Migration failed"
    assert out[-2].endswith("-----END RSA PRIVATE KEY-----")


def test_a_cut_key_stops_masking_at_the_first_line_that_is_not_key_material():
    """A byte cap or filter that drops END does not hide the failure line after it."""
    out = redact_lines([PEM_LINES[0], PEM_LINES[1], "Live Migration failure: boom"])
    assert out[-1] == "Live Migration failure: boom"
    assert leaks(out) == []


def test_an_encrypted_legacy_key_loses_its_headers_and_body():
    """RFC 1421 headers (Proc-Type, DEK-Info) inside the block are masked with the body."""
    lines = [
        PEM_LINES[0],
        "Proc-Type: 4,ENCRYPTED",
        "DEK-Info: AES-128-CBC,DekIv0011223344",
        "",
        *PEM_LINES[1:],
    ]
    out = redact_lines(lines)
    assert "DekIv0011223344" not in "\n".join(out)
    assert leaks(out) == []


def test_a_key_body_line_without_its_begin_is_masked_by_its_shape():
    """A lone base64 body line (its BEGIN fell outside the window) is masked."""
    out = redact_lines([OSLO + ORPHAN_BODY_LINE])
    assert out == [OSLO + MASK]
    assert not any(s in out[0] for s in ORPHAN_SECRETS)


def test_ceph_keyring_keeps_its_structure():
    """Section and caps stay readable; the key goes."""
    out = redact("\n".join(KEYRING_LINES))
    assert "[client.cinder]" in out
    assert 'caps mon = "profile rbd"' in out
    assert "key = ***" in out


def test_a_traceback_holding_the_corpus_is_clean():
    """A traceback (one string, many lines) loses every secret and keeps its frames."""
    out = redact(traceback_text())
    assert leaks([out]) == []
    assert out.startswith("Traceback (most recent call last):")
    assert out.endswith("MessagingTimeout: Timed out waiting for a reply")


def test_json_bodies_mask_secret_fields_by_name():
    """A notification's _context_auth_token goes whatever its shape; other fields stay."""
    body = {
        "_context_auth_token": "opaque",
        "_context_request_id": "req-1",
        "payload": {"exception_message": SINGLE_LINE[0][0], "key": "k", "n": 3},
        "list": [{"password": None}, "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"],
    }
    out = redact_json(body)
    assert out == {
        "_context_auth_token": MASK,
        "_context_request_id": "req-1",
        "payload": {
            "exception_message": redact(SINGLE_LINE[0][0]),
            "key": MASK,
            "n": 3,
        },
        "list": [{"password": None}, MASK],
    }


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("_context_auth_token", True),
        ("password", True),
        ("key", True),
        ("auth_password", True),
        ("key_name", False),
        ("request_id", False),
        ("public_key", False),
    ],
)
def test_secret_field_names(name, secret):
    """Field names that hold secrets (and ones that do not, like Nova's key_name)."""
    assert is_secret_key(name) is secret


def test_corpus_secrets_are_distinct_from_their_masks():
    """The scan is meaningful: no secret is a substring of the mask or of another's mask."""
    assert all(MASK not in s and s not in MASK for s in SECRETS)


@pytest.mark.parametrize(
    "header",
    [
        "RSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "EC PRIVATE KEY",
    ],
)
def test_pem_private_key_blocks_are_masked(header):
    """The whole block body disappears, the surrounding text stays."""
    text = PEM.replace("RSA PRIVATE KEY", header)
    out = redact(text)
    assert "SECRETKEYMATERIAL" not in out
    assert "abcdefghijklmnop" not in out
    assert out.startswith("some text before")
    assert out.endswith("after")


def test_truncated_pem_block_is_masked_to_the_end():
    """A byte cap that cuts a key before END still hides the rest."""
    out = redact("x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA")
    assert "b3BlbnNzaC1rZXktdjEAAAA" not in out


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25 19:02:11.532 3521 ERROR nova.virt.libvirt.driver [req-1 u p - - default default]"
        " Live Migration failure: operation failed: Failed to connect to remote libvirt URI"
        " qemu+tls://cmp-b-01/system: authentication failed",
        "Host key verification failed.",
        "pf9@cmp-b-01: Permission denied (publickey).",
        "Certificate check failed The server certificate /etc/pki/libvirt/servercert.pem has expired",
        "Filter AvailabilityZoneFilter returned 0 hosts",
        "tcp: [1] 10.0.0.50:3260,1 iqn.2010-10.org.openstack:volume-abc (non-flash)",
    ],
)
def test_diagnostic_text_is_left_alone(text):
    """Error messages the checks match on are not mangled."""
    assert redact(text) == text


@given(st.text())
def test_redact_never_raises_and_is_idempotent(text):
    """Any text redacts, and redacting twice changes nothing more."""
    once = redact(text)
    assert redact(once) == once


_PIECES = st.sampled_from(
    [*PEM_LINES, *KEYRING_LINES, ORPHAN_BODY_LINE, OSLO, "", " ", "x: y", "plain text"]
)


@given(st.lists(_PIECES | st.text(max_size=20), max_size=12))
def test_redact_lines_is_idempotent_and_keeps_the_line_count(lines):
    """Mixed key blocks and text: same number of lines, and a second pass changes nothing."""
    once = redact_lines(lines)
    assert len(once) == len(lines)
    assert redact_lines(once) == once


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=6, max_size=30))
def test_generated_passwords_in_urls_and_keys_never_survive(secret):
    """Whatever the password, it is masked in a URL and after a password key."""
    assert secret not in redact(f"transport_url = rabbit://nova:{secret}@mq:5672/")
    assert secret not in redact(f"admin_password = {secret}")
    assert secret not in redact(f"node.session.auth.password = {secret}")


@pytest.mark.parametrize(
    "text",
    [
        "PASSWORD = Upper5ecret",
        "Admin_Password: Upper5ecret",
        "X-AUTH-TOKEN: Upper5ecret",
        "AUTHORIZATION: Bearer Upper5ecret",
        "KEY = Upper5ecret",
        "DB_CONNECTION=MYSQL://NOVA:Upper5ecret@DB/NOVA",
        "Node.Session.Auth.PASSWORD = Upper5ecret",
    ],
)
def test_key_names_match_in_any_case(text):
    """The cheap pre-checks that skip rules compare case-folded, as the rules match."""
    assert "Upper5ecret" not in redact(text)


def test_unavailable_and_collector_errors_are_redacted_whoever_builds_them():
    """An API's or a host's error text (an HTTP body, an SSH error) is masked at once."""
    text = (
        "HTTP 500: " + " | ".join(t for t, _ in SINGLE_LINE) + "\n" + traceback_text()
    )
    unavailable = Unavailable(reason=f"failed: {SINGLE_LINE[0][0]}", detail=text)
    error = CollectorError(f"failed: {SINGLE_LINE[0][0]}", text)
    assert leaks([unavailable.reason, unavailable.detail]) == []
    assert leaks([error.reason, error.detail, str(error)]) == []
