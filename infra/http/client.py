"""Who is on the other end of a request: the address, and its keyed pseudonym.

An IP address is an identifier under HIPAA: where it is kept (holds, the audit), only the
pseudonym is, a keyed hash that cannot be reversed or guessed without the key.
"""

from __future__ import annotations

from fastapi import Request

from infra.crypto.derived_keys import keyed_hash


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def client_pseudonym(request: Request, key: bytes) -> str:
    return keyed_hash(key, client_ip(request))[:24]
