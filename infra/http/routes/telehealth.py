"""Telehealth: a participant's /appointments/{id}/join-link, and /telehealth/join with it.

The join link is a credential in a URL, so the answers are `no-store` and nothing here logs
a URL (docs/decisions/0016-telehealth-join-links.md).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from commands.context import Actor
from commands.telehealth import JoinLink, JoinSession
from domain.access import Role, Scope
from infra.http.audit import record_read
from infra.http.deps import TelehealthDep
from infra.http.security import Acting

router = APIRouter(tags=["telehealth"])
Reader = Annotated[Actor, Acting(Scope.bookings_read, purpose_required=False)]
JoinToken = Annotated[str, Query(min_length=1, max_length=2048,
                                 description="The token of a join link (the credential)")]
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
REFUSED: dict[int | str, dict[str, Any]] = {409: {
    "description": "The visit is not open yet (`opens_at`), was cancelled, moved "
                   "(`stale-join-link`) or has ended"}}


@router.get("/appointments/{appointment_id}/join-link", response_model=JoinLink,
            responses=REFUSED)
def read_join_link(appointment_id: UUID, actor: Reader, telehealth: TelehealthDep,
                   response: Response) -> JoinLink:
    """The caller's own join link to a video visit: its patient's, or its provider's."""
    link = telehealth.join_link(appointment_id, actor)
    response.headers.update(PRIVATE)
    return link


@router.get("/telehealth/join", response_model=JoinSession,
            responses={401: {"description": "The join link is forged, tampered with or "
                                            "expired (`invalid-join-link`)"}, **REFUSED})
def join_visit(token: JoinToken, request: Request, telehealth: TelehealthDep,
               response: Response) -> JoinSession:
    """Join a video visit with a join link (no bearer token: the link is the credential)."""
    admitted = telehealth.join(token)
    # Joining opens a session where PHI is exchanged: audited like a read, by the participant.
    joiner = Actor(subject=str(admitted.participant_id), role=Role(admitted.session.role.value))
    record_read(request, joiner, patient_id=admitted.patient_id,
                record_id=admitted.appointment_id)
    response.headers.update(PRIVATE)
    return admitted.session
