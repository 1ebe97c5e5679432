"""Secrets never survive redaction: a corpus of real-looking config and log lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnostics.evidence.redact import redact

# (text, the secret that must disappear)
CORPUS = [
    ("transport_url = rabbit://nova:Sup3rS3cret@10.0.0.5:5672//", "Sup3rS3cret"),
    (
        "transport_url=rabbit://nova:p1@mq-0:5672,nova:Second-Pass@mq-1:5672/nova",
        "Second-Pass",
    ),
    (
        "connection = mysql+pymysql://nova:dbPa55@db.internal/nova?charset=utf8",
        "dbPa55",
    ),
    ("password = hunter2", "hunter2"),
    ("admin_password=AdminPw!", "AdminPw!"),
    ("metadata_proxy_shared_secret = mdsecret", "mdsecret"),
    ("neutron.metadata_secret: 's3cr3t-v'", "s3cr3t-v"),
    (
        "auth_token = gAAAAABlfernettoken1234567890abcdefghijklmnopqrstuvwxyz",
        "gAAAAABlfernet",
    ),
    ("GET /v2.1/servers -H 'X-Auth-Token: {SHA256}deadbeefcafe'", "deadbeefcafe"),
    ('"X-Auth-Token": "abcdef0123456789"', "abcdef0123456789"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
    ("posting with xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"),
    ("app token xapp-1-A0123-456789-abcdef0123", "abcdef0123"),
    ("user token xoxp-11-22-33-aabbccddeeff", "aabbccddeeff"),
    ("node.session.auth.password = chapSecret1", "chapSecret1"),
    ("node.session.auth.password_in = mutualChap", "mutualChap"),
    (
        "connection_info {'auth_method': 'CHAP', 'auth_username': 'u', 'auth_password': 'Chap0"
        "Pass', 'target_iqn': 'iqn.2010-10.org.openstack:volume-1'}",
        "Chap0Pass",
    ),
    ('{"auth_password": "jsonChap"}', "jsonChap"),
    ("discovery_auth_password=discChap", "discChap"),
    ("GET https://swift/v1/obj?temp_url_sig=abcd1234&temp_url_expires=1", "abcd1234"),
    ("redirect to https://h/cb?token=tok-123&state=x", "tok-123"),
    ("https://h/x?X-Amz-Signature=aws4sig&y=1", "aws4sig"),
    ("rbd_secret_uuid = 457eb676-33da-42ec-9a8c-9293d545c337", "457eb676"),
    ("api_key: live-key-123", "live-key-123"),
]

PEM = """some text before
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAuX1SECRETKEYMATERIALxyz
abcdefghijklmnop
-----END RSA PRIVATE KEY-----
after"""


@pytest.mark.parametrize(("text", "secret"), CORPUS, ids=[c[1] for c in CORPUS])
def test_secret_is_masked(text, secret):
    """The secret is gone and the mask is there."""
    out = redact(text)
    assert secret not in out
    assert "***" in out


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


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=6, max_size=30))
def test_generated_passwords_in_urls_and_keys_never_survive(secret):
    """Whatever the password, it is masked in a URL and after a password key."""
    assert secret not in redact(f"transport_url = rabbit://nova:{secret}@mq:5672/")
    assert secret not in redact(f"admin_password = {secret}")
    assert secret not in redact(f"node.session.auth.password = {secret}")
