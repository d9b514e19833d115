"""Telehealth: a participant's join link, and joining a video visit with it.

Both read the appointment from the event store, not a read model: a link must stop working
the moment the visit is cancelled or moved. The join link is a credential in a URL, so the
answers are `no-store` and nothing here logs a URL (docs/decisions/0016-telehealth-join-links.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from domain.access import Role, Scope
from domain.appointments import Appointment
from domain.errors import NotFoundError
from domain.telehealth import Participant, VideoVisit, admit, require_link_issuable
from infra.auth.tokens import Principal
from infra.container import Container
from infra.http.audit import record_read
from infra.http.deps import ContainerDep
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from infra.telehealth import InvalidJoinLinkError

router = APIRouter(tags=["telehealth"])
Reader = Annotated[Principal, Authorized(Scope.bookings_read)]
JoinToken = Annotated[str, Query(min_length=1, max_length=2048,
                                 description="The token of a join link (the credential)")]
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
REFUSED: dict[int | str, dict[str, Any]] = {409: {
    "description": "The visit is not open yet (`opens_at`), was cancelled, moved "
                   "(`stale-join-link`) or has ended"}}


class JoinLink(BaseModel):
    url: str
    role: Participant
    expires_at: datetime
    opens_at: datetime


class JoinSession(BaseModel):
    """What the video client needs, and nothing about the patient."""

    room_id: str
    role: Participant
    provider_name: str
    service_name: str
    clinic_name: str
    start: datetime
    end: datetime


@router.get("/appointments/{appointment_id}/join-link", response_model=JoinLink,
            responses=REFUSED)
def read_join_link(appointment_id: UUID, principal: Reader, container: ContainerDep,
                   response: Response) -> JoinLink:
    """The caller's own join link to a video visit: its patient's, or its provider's."""
    appointment = _participants_visit(container, principal, appointment_id)
    require_link_issuable(_video_visit(appointment), datetime.now(UTC))
    role = Participant(principal.role.value)
    links = container.join_links
    url = links.url_for(appointment.id, role, UUID(principal.subject), appointment.start,
                        appointment.end)
    response.headers.update(PRIVATE)
    return JoinLink(url=url, role=role, expires_at=appointment.end,
                    opens_at=links.opens_at(appointment.start))


@router.get("/telehealth/join", response_model=JoinSession,
            responses={401: {"description": "The join link is forged, tampered with or "
                                            "expired (`invalid-join-link`)"}, **REFUSED})
def join_visit(token: JoinToken, request: Request, container: ContainerDep,
               response: Response) -> JoinSession:
    """Join a video visit with a join link (no bearer token: the link is the credential)."""
    links = container.join_links
    try:
        claims = links.verify(token)
        appointment = container.app.appointment(claims.appointment_id)
    except (InvalidJoinLinkError, NotFoundError) as exc:
        detail = str(exc) if isinstance(exc, InvalidJoinLinkError) else "not a valid join link"
        raise _invalid_link(detail) from None
    participants = {Participant.patient: appointment.patient_id,
                    Participant.provider: appointment.provider_id}
    if participants[claims.role] != claims.participant_id:
        raise _invalid_link("not a valid join link")
    admit(_video_visit(appointment), claims.start, datetime.now(UTC), links.early)
    provider = container.app.provider(appointment.provider_id)
    service = container.app.service(appointment.service_id)
    clinic = container.app.clinic(appointment.clinic_id)
    # Joining opens a session where PHI is exchanged: audited like a read, by the participant.
    joiner = Principal(subject=str(claims.participant_id), role=Role(claims.role.value),
                       scopes=frozenset(), token_id="join-link")
    record_read(request, joiner, patient_id=appointment.patient_id, record_id=appointment.id)
    response.headers.update(PRIVATE)
    return JoinSession(room_id=links.room_id(appointment.id), role=claims.role,
                       provider_name=provider.display_name, service_name=service.name,
                       clinic_name=clinic.name, start=appointment.start, end=appointment.end)


def _participants_visit(container: Container, principal: Principal,
                        appointment_id: UUID) -> Appointment:
    """Only the visit's own patient and provider have links; to anyone else (staff
    included) there is none, and someone else's visit looks absent."""
    appointment = container.app.appointment(appointment_id)
    participants = {Role.patient: appointment.patient_id, Role.provider: appointment.provider_id}
    if str(participants.get(principal.role, "")) != principal.subject:
        raise ProblemError("not-found", f"no join link for appointment {appointment_id}",
                           denied=True, error="not-found")
    return appointment


def _video_visit(appointment: Appointment) -> VideoVisit:
    return VideoVisit(status=appointment.status, modality=appointment.modality,
                      start=appointment.start, end=appointment.end)


def _invalid_link(detail: str) -> ProblemError:
    return ProblemError("unauthenticated", f"{detail[:1].upper()}{detail[1:]}; ask for a new "
                        "one.", error="invalid-join-link")
