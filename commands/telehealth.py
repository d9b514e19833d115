"""Telehealth: a participant's join link, and joining a video visit with it.

Both read the appointment from the event store, not a read model: a link must stop working
the moment the visit is cancelled or moved (docs/decisions/0016-telehealth-join-links.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel

from commands.application import found
from commands.context import Actor
from commands.directory import Directory
from commands.ports import JoinLinks
from commands.visits import Visits
from domain.appointments import Appointment
from domain.clinics import Clinic
from domain.errors import NotFoundError
from domain.providers import Provider
from domain.record_access import require_participant
from domain.services import Service
from domain.telehealth import (
    InvalidJoinLinkError,
    Participant,
    VideoVisit,
    admit,
    require_link_issuable,
)


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


@dataclass(frozen=True)
class Admitted:
    session: JoinSession
    participant_id: UUID
    patient_id: UUID  # whose visit: joining is audited like a read of their record
    appointment_id: UUID


class Telehealth:
    def __init__(self, visits: Visits, directory: Directory, links: JoinLinks) -> None:
        self.visits, self.directory, self.links = visits, directory, links

    def join_link(self, appointment_id: UUID, actor: Actor) -> JoinLink:
        """The caller's own link to a video visit: its patient's, or its provider's."""
        appointment = self.visits.appointment(appointment_id)
        role = require_participant(actor, appointment_id, appointment.patient_id,
                                   appointment.provider_id)
        require_link_issuable(_video_visit(appointment), datetime.now(UTC))
        url = self.links.url_for(appointment.id, role, UUID(actor.subject), appointment.start,
                                 appointment.end)
        return JoinLink(url=url, role=role, expires_at=appointment.end,
                        opens_at=self.links.opens_at(appointment.start))

    def join(self, token: str) -> Admitted:
        """Enter a video visit with a join link (the link is the credential)."""
        try:
            claims = self.links.verify(token)
            appointment = self.visits.appointment(claims.appointment_id)
        except NotFoundError:
            raise InvalidJoinLinkError("not a valid join link") from None
        participants = {Participant.patient: appointment.patient_id,
                        Participant.provider: appointment.provider_id}
        if participants[claims.role] != claims.participant_id:
            raise InvalidJoinLinkError("not a valid join link")
        admit(_video_visit(appointment), claims.start, datetime.now(UTC), self.links.early)
        loaded = self.directory.app.get_many(appointment.provider_id, appointment.service_id,
                                             appointment.clinic_id)
        provider = found(loaded, Provider, appointment.provider_id, "provider")
        service = found(loaded, Service, appointment.service_id, "service")
        clinic = found(loaded, Clinic, appointment.clinic_id, "clinic")
        session = JoinSession(
            room_id=self.links.room_id(appointment.id), role=claims.role,
            provider_name=provider.display_name, service_name=service.name,
            clinic_name=clinic.name, start=appointment.start, end=appointment.end)
        return Admitted(session, claims.participant_id, appointment.patient_id,
                        appointment.id)


def _video_visit(appointment: Appointment) -> VideoVisit:
    return VideoVisit(status=appointment.status, modality=appointment.modality,
                      start=appointment.start, end=appointment.end)
