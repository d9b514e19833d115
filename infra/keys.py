"""Purpose-bound keys derived from the configured secrets (HKDF), so one secret never
serves two purposes directly."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infra.settings import Settings


@dataclass(frozen=True)
class DerivedKeys:
    email_index: bytes  # keyed hash of email addresses (EmailClaim ids)
    code_pepper: bytes  # keyed hash of one-time codes in Redis
    receipts: bytes  # signatures of consent receipts


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"clinic:{purpose}".encode()).derive(secret)


def derived_keys(settings: Settings) -> DerivedKeys:
    kek = base64.b64decode(settings.phi_kek.get_secret_value())
    jwt = settings.jwt_secret.get_secret_value().encode()
    return DerivedKeys(email_index=_derive(kek, "email-index"),
                       code_pepper=_derive(jwt, "otp"), receipts=_derive(jwt, "receipts"))
