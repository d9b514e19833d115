"""What we sign: consent receipts and telehealth join links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from domain.telehealth import JoinClaims, Participant


@dataclass(frozen=True)
class Signature:
    key_id: str  # hex: which published verifier key checks it
    value: str  # base64


class ReceiptSigner(Protocol):
    """Signs receipts so that anyone with the published verifier keys can check them."""

    def sign(self, receipt: dict[str, Any]) -> Signature: ...
    def verify(self, receipt: dict[str, Any], signature: Signature) -> bool:
        """Signed by the current key or an earlier one still trusted, and unaltered."""

    def verifier_keys(self) -> list[str]:
        """The current key first."""


class JoinLinks(Protocol):
    """Signed, expiring telehealth links (the credential is the URL)."""

    early: timedelta

    def url_for(self, appointment_id: UUID, role: Participant, participant_id: UUID,
                start: datetime, end: datetime) -> str: ...
    def verify(self, token: str) -> JoinClaims:
        """The claims of a genuine, unexpired link; InvalidJoinLinkError otherwise."""

    def opens_at(self, start: datetime) -> datetime: ...
    def room_id(self, appointment_id: UUID) -> str: ...
