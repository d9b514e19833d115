"""Keys: the PHI key ring and purpose-bound keys derived from the configured secrets (HKDF),
so that one secret never serves two purposes directly."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from uuid import NAMESPACE_URL, uuid5

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infra.crypto.datakeys import DataKeys
from infra.crypto.kek import KeyRing
from infra.settings import Settings

# The email index key is a stored system data key (wrapped like a patient's), so rotating
# the key-encryption key does not change the EmailClaim ids already in the event store.
EMAIL_INDEX_SUBJECT = uuid5(NAMESPACE_URL, "urn:clinic:system-key:email-index")


@dataclass(frozen=True)
class DerivedKeys:
    code_pepper: bytes  # keyed hash of one-time codes in Redis
    pseudonyms: bytes  # keyed hashes of emails / addresses / bodies in Redis keys
    join_links: bytes  # signatures of telehealth join links (never the API token key)
    rooms: bytes  # keyed hash of an appointment id: the telehealth room id
    waitlist_offers: bytes  # the secrets of waitlist offers' holds (commands/offers.py)


def keyed_hash(key: bytes, data: str | bytes) -> str:
    """HMAC-SHA256 in hex: the one way identifiers and request bodies are pseudonymised."""
    message = data.encode() if isinstance(data, str) else data
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"clinic:{purpose}".encode()).derive(secret)


def derived_keys(settings: Settings) -> DerivedKeys:
    jwt = settings.jwt_secret.get_secret_value().encode()
    return DerivedKeys(code_pepper=derive(jwt, "otp"),
                       pseudonyms=derive(jwt, "pseudonyms"),
                       join_links=derive(jwt, "telehealth-join-links"),
                       rooms=derive(jwt, "telehealth-rooms"),
                       waitlist_offers=derive(jwt, "waitlist-offer-holds"))


def key_ring(settings: Settings) -> KeyRing:
    return KeyRing(current=_b64(settings.phi_kek_value()),
                   previous=tuple(_b64(k) for k in settings.phi_kek_previous_values()))


def email_index_key(keys: DataKeys, ring: KeyRing) -> bytes:
    # First use (or a database from before stored system keys): the historical derivation.
    key = keys.key_for(EMAIL_INDEX_SUBJECT, create=True,
                       material=derive(ring.current, "email-index"))
    assert key is not None
    return key


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)
