"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 with the
secret's key bytes over `{webhook-id}.{webhook-timestamp}.{body}`, sent base64 as
`webhook-signature: v1,<signature>`. A receiver verifies with the same three parts and
refuses a timestamp far from its clock (replays)."""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


def secret_key(secret: str) -> bytes:
    """The key bytes of a `whsec_<base64>` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int,
                   body: bytes) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body),
            "content-type": "application/json"}


def verify(secret: str, headers: dict[str, str], body: bytes, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: any of the space-separated `v1,` signatures matches, and the
    timestamp is within `tolerance` seconds of `now`."""
    try:
        message_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, given)
               for given in headers.get("webhook-signature", "").split())
