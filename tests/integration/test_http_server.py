"""The HTTP server itself (uvicorn under `clinic serve`), for what never reaches the app."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx


def _raw_get(base: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """GET over a plain socket: HTTP clients refuse a URL this long before sending it."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_a_request_line_too_long_for_the_parser_is_a_problem_not_plain_text(api: str) -> None:
    # Issue "Hardening", item 3: a 100,000-character cursor got uvicorn's text/plain 400.
    status, headers, body = _raw_get(api, "/slots?cursor=" + "a" * 100_000)
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == "urn:clinic:problem:malformed-request"
    assert problem["status"] == 400 and b"a" * 100 not in body
    # A long cursor the parser does read is the app's own 422.
    shorter = httpx.get(f"{api}/slots", params={"cursor": "a" * 10_000}, timeout=10)
    assert shorter.status_code == 422
    assert shorter.headers["content-type"] == "application/problem+json"
