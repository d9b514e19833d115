"""Patients' sign-in: one-time email codes and sessions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID


class CodeCheck(StrEnum):
    accepted = "accepted"
    wrong = "wrong"
    expired = "expired"  # unknown, expired, used, or locked after too many wrong tries


class OneTimeCodes(Protocol):
    """Six-digit email codes: single use, short-lived, stored hashed, few tries."""

    def issue(self, subject: UUID) -> str: ...
    def check(self, subject: UUID, code: str) -> CodeCheck: ...
    def revoke(self, subject: UUID) -> None:
        """Forget any outstanding code (sign-out everywhere, erasure)."""


@dataclass(frozen=True)
class SessionGrant:
    access_token: str
    expires_in: int  # seconds until the session ends at the latest (absolute limit)
    idle_timeout: int  # seconds without a request after which it ends


class Sessions(Protocol):
    """Patients' sign-in sessions: a patient's token works only while its session lives."""

    def sign_in(self, patient_id: UUID | str) -> SessionGrant: ...
    def end(self, subject: str, session_id: str | None) -> None: ...
    def end_all(self, patient_id: UUID) -> int:
        """End every session of a patient (erasure); returns how many were live."""
