"""The one redaction corpus: secrets as they appear in OpenStack logs, APIs and bodies.

Every redaction test draws from here: the unit tests of the redactor, the end-to-end test
that plants the corpus in a simulated region (API faults, events, tracebacks, host logs,
pod logs) and scans every output, and the store tests that scan every row of every table.
Each entry names the secret that must never survive: a distinctive core, so a scan of an
output for it cannot be fooled by a partial mask.
"""

from __future__ import annotations

from collections.abc import Iterable

# (text as a service writes it, the secret in it)
SINGLE_LINE: tuple[tuple[str, str], ...] = (
    # passwords in URLs and connection strings
    ("transport_url = rabbit://nova:Sup3rS3cret@10.0.0.5:5672//", "Sup3rS3cret"),
    (
        "transport_url=rabbit://nova:p1@mq-0:5672,nova:Second-Pass@mq-1:5672/nova",
        "Second-Pass",
    ),
    ("transport_url = rabbit://nova:At@Sign9Pw@mq:5672/", "Sign9Pw"),
    (
        "connection = mysql+pymysql://nova:dbPa55word@db.internal/nova?charset=utf8",
        "dbPa55word",
    ),
    ("sql_connection=postgresql://cinder:PgPass9931@db/cinder", "PgPass9931"),
    ("Server=db;Database=nova;User Id=nova;Password=OdbcPw4417;", "OdbcPw4417"),
    ("amqp://guest:GuestPw3390@127.0.0.1:5672/", "GuestPw3390"),
    # key = value forms (nova.conf, keystone, neutron, ceph)
    ("password = hunter2Pw", "hunter2Pw"),
    ("admin_password=AdminPw!77", "AdminPw!77"),
    ("metadata_proxy_shared_secret = mdsecret8812", "mdsecret8812"),
    ("neutron.metadata_secret: 's3cr3t-v41'", "s3cr3t-v41"),
    ("secret = PlainSecret5521", "PlainSecret5521"),
    ("key = AQBvsBFaAAAAABAAQ2VwaEtleVJpbmdTZWNyIQ==", "Q2VwaEtleVJpbmdTZWNyIQ"),
    (
        "virsh secret-set-value --secret 457eb676 --base64"
        " AQB6wSJbAAAAABAATGlidmlydFNlY3JldFZhbA==",
        "TGlidmlydFNlY3JldFZhbA",
    ),
    ("rbd_secret_uuid = 457eb676-33da-42ec-9a8c-9293d545c337", "9293d545c337"),
    ("api_key: live-key-123998", "live-key-123998"),
    # tokens: Keystone, oslo.messaging context fields, Slack
    (
        "auth_token = gAAAAABlfernettoken1234567890abcdefghijklmnopqrstuvwxyz",
        "gAAAAABlfernet",
    ),
    (
        '{"_context_auth_token": "7f3a9c1e2b4d5f60a1b2c3d4e5f6a7b8", "_context_user": "u"}',
        "7f3a9c1e2b4d5f60a1b2c3d4e5f6a7b8",
    ),
    ("'_context_auth_token': 'ctxTok-55e1a9'", "ctxTok-55e1a9"),
    (
        "GET /v2.1/servers -H 'X-Auth-Token: {SHA256}deadbeefcafe0042'",
        "deadbeefcafe0042",
    ),
    ('"X-Auth-Token": "abcdef0123456789feed"', "abcdef0123456789feed"),
    (
        "X-Subject-Token: gAAAAABsubjecttoken0987654321zyxwvutsrqponmlkjihgfedcba",
        "subjecttoken09",
    ),
    (
        "bare gAAAAABbarefernet5678901234567890abcdefghijklmnopqrstuv here",
        "barefernet5678",
    ),
    ("posting with xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"),
    ("app token xapp-1-A0123-456789-abcdef0123", "abcdef0123"),
    ("user token xoxp-11-22-33-aabbccddeeff", "aabbccddeeff"),
    (
        "hook https://hooks.slack.com/services/T0A1B2C3/B0D4E5F6/HookSecret9z8y7x",
        "HookSecret9z8y7x",
    ),
    # Authorization headers
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA"),
    (
        'Authorization: Digest username="nova", response="6629fae49393a05397450978507c4ef1"',
        "6629fae49393a05397450978507c4ef1",
    ),
    # CHAP secrets (iscsiadm, os-brick connection_info)
    ("node.session.auth.password = chapSecret1x", "chapSecret1x"),
    ("node.session.auth.password_in = mutualChap2y", "mutualChap2y"),
    (
        "Unexpected error while running command. Command: iscsiadm -m node -T"
        " iqn.2010-10.org.openstack:vol -p 10.0.0.50:3260 --op update -n"
        " node.session.auth.password -v Chap5ecretXYZ",
        "Chap5ecretXYZ",
    ),
    (
        "connection_info {'auth_method': 'CHAP', 'auth_username': 'u', 'auth_password':"
        " 'Chap0Pass77', 'target_iqn': 'iqn.2010-10.org.openstack:volume-1'}",
        "Chap0Pass77",
    ),
    ('{"auth_password": "jsonChap31"}', "jsonChap31"),
    ("discovery_auth_password=discChap42", "discChap42"),
    # signed URLs
    (
        "GET https://swift/v1/obj?temp_url_sig=abcd1234ef&temp_url_expires=1",
        "abcd1234ef",
    ),
    ("redirect to https://h/cb?token=tok-123456&state=x", "tok-123456"),
    ("https://h/x?X-Amz-Signature=aws4sig778&y=1", "aws4sig778"),
    # a one-line PEM (a JSON string with escaped newlines)
    (
        "ssh_key: -----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAAOneLinePem"
        "\\n-----END OPENSSH PRIVATE KEY-----",
        "OneLinePem",
    ),
)

# Blocks a logger or a tool writes over several lines, each line a separate log record
# (oslo.log prefixes every line of a multi-line message) or a line of command output.
PEM_LINES: tuple[str, ...] = (
    "Loaded migration key: -----BEGIN RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEAuX1PemBodyLine1qwertyuiopASDFGHJKLzxcvbnm12345678",
    "PemBodyLine2abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP",
    "PemTail3xyz==",
    "-----END RSA PRIVATE KEY-----",
)
PEM_SECRETS: tuple[str, ...] = ("PemBodyLine1", "PemBodyLine2", "PemTail3xyz")

OPENSSH_LINES: tuple[str, ...] = (
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACBOpenSshBody2xyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop",
    "-----END OPENSSH PRIVATE KEY-----",
)
OPENSSH_SECRETS: tuple[str, ...] = (
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "OpenSshBody2xyz",
)

KEYRING_LINES: tuple[str, ...] = (
    "[client.cinder]",
    "\tkey = AQB6wSJbAAAAABAAS2V5cmluZ0xpbmVTZWNyZQ==",
    '\tcaps mon = "profile rbd"',
)
KEYRING_SECRETS: tuple[str, ...] = ("S2V5cmluZ0xpbmVTZWNyZQ",)

# A PEM body seen without its BEGIN line (the time window or the grep dropped it).
ORPHAN_BODY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjOrphanBody7Kq2AgEAAoIBAQC7"
ORPHAN_SECRETS: tuple[str, ...] = ("OrphanBody7Kq2",)

MULTI_LINE: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (PEM_LINES, PEM_SECRETS),
    (OPENSSH_LINES, OPENSSH_SECRETS),
    (KEYRING_LINES, KEYRING_SECRETS),
)

SECRETS: tuple[str, ...] = (
    *(secret for _, secret in SINGLE_LINE),
    *(s for _, secrets in MULTI_LINE for s in secrets),
    *ORPHAN_SECRETS,
)


def traceback_text() -> str:
    """A Nova-style traceback whose frames' locals leak every single-line secret and a key."""
    frames = [
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3/site-packages/nova/compute/manager.py", line 8712,'
        " in _do_live_migration",
    ]
    frames += [f"    {text}" for text, _ in SINGLE_LINE]
    frames += list(PEM_LINES)
    frames.append(
        "oslo_messaging.exceptions.MessagingTimeout: Timed out waiting for a reply"
    )
    return "\n".join(frames)


def leaks(texts: Iterable[str]) -> list[str]:
    """The corpus secrets found in any of ``texts`` (empty when nothing leaked)."""
    joined = "\n".join(texts)
    return [secret for secret in SECRETS if secret in joined]
