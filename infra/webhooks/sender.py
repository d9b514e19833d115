"""One webhook attempt over HTTPS: POST the signed body, read at most a short excerpt of the
answer. The receiver's certificate must chain to the system's CAs or to
CLINIC_WEBHOOK_CA_FILE; redirects are not followed (a 3xx is a failed attempt)."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.postgres.webhook_deliveries import EXCERPT_CHARS, Attempt
from infra.webhooks.schedule import retry_after_seconds
from infra.webhooks.signing import signed_headers


@dataclass(frozen=True)
class Sent:
    attempt: Attempt
    delivered: bool
    retry_after: float | None  # what the receiver asked for (429, 503), in seconds


def trust_store(ca_file: Path | None) -> ssl.SSLContext:
    """The system's CAs, plus those in `ca_file` (a partner's private CA, a test's CA)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class WebhookSender:
    def __init__(self, timeout: float, ca_file: Path | None = None,
                 user_agent: str = "clinic-webhooks/1") -> None:
        self.client = httpx.Client(verify=trust_store(ca_file), timeout=timeout,
                                   follow_redirects=False, headers={"user-agent": user_agent})

    def send(self, url: str, secret: str, message_id: str, body: bytes) -> Sent:
        headers = signed_headers(secret, message_id, int(time.time()), body)
        started = time.monotonic()
        try:
            with self.client.stream("POST", url, content=body, headers=headers) as response:
                excerpt = _excerpt(response)
        except httpx.HTTPError as exc:
            return Sent(Attempt(None, f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS], "",
                                _ms(started)), False, None)
        delivered = 200 <= response.status_code < 300
        said = retry_after_seconds(response.headers.get("retry-after"))
        return Sent(Attempt(response.status_code, "" if delivered else
                            f"HTTP {response.status_code}", excerpt, _ms(started)),
                    delivered, None if delivered else said)

    def close(self) -> None:
        self.client.close()


def _excerpt(response: httpx.Response) -> str:
    """The answer's first bytes only: what a partner answers is theirs, not ours to keep."""
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= EXCERPT_CHARS:
            break
    return read[:EXCERPT_CHARS].decode("utf-8", "replace")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
