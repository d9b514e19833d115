"""Telehealth join rules: who may enter a video visit, and when.

A join link is bound to the start it was made for; links are checked against the visit as it
is now, so a cancellation or a move takes effect at once, without revoking anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.appointments import AppointmentStatus
from domain.errors import ConflictError, NotAuthenticatedError, RuleViolationError
from domain.modality import Modality

# Checked in is still joinable: the patient may drop out of the call and come back.
JOINABLE = frozenset({AppointmentStatus.booked, AppointmentStatus.checked_in})


class Participant(StrEnum):
    patient = "patient"
    provider = "provider"


@dataclass(frozen=True)
class JoinClaims:
    """What a join link says: who may join which visit, made for which start."""

    appointment_id: UUID
    role: Participant
    participant_id: UUID
    start: datetime  # the visit's start when the link was made
    expires_at: datetime


class InvalidJoinLinkError(NotAuthenticatedError):
    """Forged, tampered, expired or not a join link at all."""

    code = "invalid-join-link"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail[:1].upper()}{detail[1:]}; ask for a new one.")


class NotTelehealthError(RuleViolationError):
    code = "not-telehealth"


class VisitNotJoinableError(ConflictError):
    code = "visit-not-joinable"


class VisitEndedError(ConflictError):
    code = "visit-ended"


class StaleJoinLinkError(ConflictError):
    code = "stale-join-link"


class JoinTooEarlyError(ConflictError):
    code = "join-not-open"

    def __init__(self, opens_at: datetime) -> None:
        super().__init__(f"the video visit opens at {opens_at.isoformat()}")
        self.opens_at = opens_at

    def extensions(self) -> dict[str, str]:
        return {"opens_at": self.opens_at.isoformat()}


@dataclass(frozen=True)
class VideoVisit:
    """What the rules need to know of an appointment, as it is now."""

    status: AppointmentStatus
    modality: str
    start: datetime
    end: datetime

    def opens_at(self, early: timedelta) -> datetime:
        return self.start - early


def require_link_issuable(visit: VideoVisit, now: datetime) -> None:
    """A link is made only for a video visit that can still take place."""
    if visit.modality != Modality.telehealth:
        raise NotTelehealthError("only video visits have join links")
    if visit.status not in JOINABLE:
        raise VisitNotJoinableError(f"the visit is {visit.status.value}")
    if now >= visit.end:
        raise VisitEndedError("the visit has ended")


def admit(visit: VideoVisit, bound_start: datetime, now: datetime, early: timedelta) -> None:
    """Let a link's holder in, or say why not. Order matters: the most lasting reason wins
    (a cancelled visit is reported as cancelled, not as too early)."""
    require_link_issuable(visit, now)
    if bound_start != visit.start:
        raise StaleJoinLinkError("the visit was moved since this link was made; "
                                 "use the newest link")
    opens = visit.opens_at(early)
    if now < opens:
        raise JoinTooEarlyError(opens)
