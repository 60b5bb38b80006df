"""DigiLocker request bodies for tests: real XML as DigiLocker sends it, and its HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

DIGILOCKER_ID = "1b7a0c5e-5f6e-4f7a-9a55-2f0c7b9d1e11"
OTHER_DIGILOCKER_ID = "9f3e2d1c-0b1a-4c5d-8e7f-6a5b4c3d2e1f"


def pull_uri_body(
    *,
    tracking_id: str,
    mobile: str,
    dob: str,
    name: str | None = None,
    txn: str = "txn-1",
    ts: datetime | str | None = None,
    format: str = "both",
    digilocker_id: str = DIGILOCKER_ID,
    doc_type: str = "VACER",
) -> bytes:
    details = [
        ("DocType", doc_type),
        ("DigiLockerId", digilocker_id),
        ("UID", ""),
        ("FullName", name or ""),
        ("DOB", dob),
        ("tracking_id", tracking_id),
        ("Mobile", mobile),
    ]
    return _document("PullURIRequest", txn, ts, format, details)


def pull_doc_body(
    *,
    uri: str,
    txn: str = "txn-2",
    ts: datetime | str | None = None,
    format: str = "both",
    digilocker_id: str = DIGILOCKER_ID,
) -> bytes:
    return _document(
        "PullDocRequest", txn, ts, format, [("URI", uri), ("DigiLockerId", digilocker_id)]
    )


def hmac_header(key: bytes, body: bytes, *, raw: bool = False) -> str:
    """What DigiLocker sends: base64 of the hex HMAC-SHA256 (or of the raw digest)."""
    mac = hmac.new(key, body, hashlib.sha256)
    return base64.b64encode(mac.digest() if raw else mac.hexdigest().encode()).decode()


def _document(
    root: str, txn: str, ts: datetime | str | None, format: str, details: list[tuple[str, str]]
) -> bytes:
    stamp = ts if isinstance(ts, str) else (ts or datetime.now(UTC)).isoformat(timespec="seconds")
    elements = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in details)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<{root} xmlns="http://tempuri.org/" ver="1.0" ts={quoteattr(stamp)} '
        f'txn={quoteattr(txn)} orgId="in.gov.covin" format={quoteattr(format)}>'
        f"<DocDetails>{elements}</DocDetails></{root}>"
    ).encode()
