"""The compliance role's views: /audit-events (reads of PHI and refusals), /audit/timeline
(every change to someone's records merged with those reads), /audit/records/{id} (a record
as it stood at a moment), /audit/checkpoint (the newest signed checkpoint, its signature
checked). PHI only with `include_phi=true` and a stated
`X-Purpose-Of-Use`; that look is itself an audited read (docs/compliance.md)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from commands.audit import PastState
from commands.consents import BookingConsents
from commands.context import Actor
from commands.inputs import IsoDateTime
from commands.timeline import TimelineOf, TimelinePage
from domain.access import PurposeOfUse, Scope
from infra.auth.tokens import Principal
from infra.crypto.checkpoints import InvalidCheckpointError, open_checkpoint
from infra.http.audit import PURPOSE_HEADER, purpose_of
from infra.http.deps import AuditDep, ConsentsDep, ReadPool, SettingsDep, TimelineDep
from infra.http.problems import ProblemError
from infra.http.security import Acting, Authorized
from infra.wiring.audit import audit_verifier_keys
from queries.audit import audit_events, latest_checkpoint

router = APIRouter(tags=["compliance"])
Auditor = Annotated[Principal, Authorized(Scope.audit_read)]
Officer = Annotated[Actor, Acting(Scope.audit_read)]
IncludePhi = Annotated[bool, Query(description="show PHI: needs a stated X-Purpose-Of-Use, "
                                               "and is recorded as a read")]


class Outcome(StrEnum):
    allowed = "allowed"
    denied = "denied"


class AuditEventView(BaseModel):
    audit_id: int
    recorded_at: datetime
    actor: str
    role: str
    action: str
    resource: str
    patient_id: UUID | None
    record_id: str | None
    purpose: str
    outcome: str
    status: int
    detail: str
    request_id: str


class AuditPage(BaseModel):
    events: list[AuditEventView]
    next_before: int | None


@router.get("/audit-events", response_model=AuditPage)
async def read_audit_events(
    _: Auditor,
    pool: ReadPool,
    patient_id: UUID | None = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Outcome | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    before: Annotated[int | None, Query(ge=1, description="`next_before` of the last page")
                      ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who read which PHI, and which requests were refused: newest first."""
    rows = await audit_events(pool, patient_id=patient_id, actor=actor,
                              outcome=outcome.value if outcome else None, since=since,
                              until=until, before=before, limit=limit)
    events = [AuditEventView(**row) for row in rows]
    return AuditPage(events=events,
                     next_before=events[-1].audit_id if len(events) == limit else None)


@router.get("/audit/timeline", response_model=TimelinePage)
def read_timeline(
    request: Request,
    officer: Officer,
    timeline: TimelineDep,
    patient_id: UUID | None = None,
    appointment_id: UUID | None = None,
    provider_id: UUID | None = None,
    clinic_id: UUID | None = None,
    record_id: Annotated[UUID | None, Query(description="any record: a consent, a schedule, "
                                                        "a calendar day, ...")] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    include_phi: IncludePhi = False,
) -> TimelinePage:
    """Every change to one patient's, visit's, provider's, clinic's or record's history (or
    everything one actor did), oldest first, merged with the reads of PHI and the refused
    requests; give exactly one of the ids (or `actor`), follow `next_cursor`."""
    given = {TimelineOf.patient: patient_id, TimelineOf.appointment: appointment_id,
             TimelineOf.provider: provider_id, TimelineOf.clinic: clinic_id,
             TimelineOf.record: record_id, TimelineOf.actor: actor}
    chosen = [(of, str(value)) for of, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise ProblemError("validation-error", "give exactly one of patient_id, "
                           "appointment_id, provider_id, clinic_id, record_id, actor",
                           error="one-subject")
    (of, subject), = chosen
    return timeline.page(of, subject, officer, cursor=cursor, limit=limit,
                         show_phi_for=_stated_purpose(request, officer, include_phi),
                         door="GET /audit/timeline")


@router.get("/audit/records/{aggregate_id}", response_model=PastState)
def read_record_as_of(
    aggregate_id: UUID,
    request: Request,
    officer: Officer,
    audit: AuditDep,
    as_of: Annotated[IsoDateTime | None, Query(description="default: now")] = None,
    include_phi: IncludePhi = False,
) -> PastState:
    """Any record (patient, appointment, consent, clinic, provider's hours, ...) as it stood
    at `as_of`, rebuilt from its own events, and every change since with who, why and for
    which purpose. A shredded patient's details read as erased."""
    return audit.state_at(aggregate_id, as_of or datetime.now(UTC), officer,
                          show_phi_for=_stated_purpose(request, officer, include_phi),
                          door="GET /audit/records/{aggregate_id}")


@router.get("/audit/bookings/{appointment_id}/consents", response_model=BookingConsents)
def read_booking_consents(appointment_id: UUID, _: Officer,
                          consents: ConsentsDep) -> BookingConsents:
    """The consents a booking needed, as they stood when it was made, with their signed
    receipts (policy version and SHA-256 of the text the patient agreed to)."""
    return consents.at_booking(appointment_id)


class SignedCheckpoint(BaseModel):
    origin: str
    size: int  # events the checkpoint signs: tree positions 1..size
    root: str  # the tree's root hash, base64
    signed_at: datetime
    note: str  # the signed note as stored: keep a copy outside the database
    signature_valid: bool  # signed by a trusted key, and saying what the table says
    problem: str | None  # why not, when not


class IntegrityStatus(BaseModel):
    checkpoint: SignedCheckpoint | None  # none until the audit_log follower signs one
    tree_size: int  # events in the Merkle tree
    events_after_checkpoint: int  # in the log, not yet signed by a checkpoint
    events_not_in_tree: int  # in the log, not yet in the tree (the follower's lag)


@router.get("/audit/checkpoint", response_model=IntegrityStatus)
async def read_checkpoint(_: Auditor, pool: ReadPool, settings: SettingsDep
                          ) -> IntegrityStatus:
    """The newest signed checkpoint of the event log's Merkle tree, its signature checked
    with the trusted verifier keys, and how many events no checkpoint covers yet. The full
    check, recomputing the tree from every event, is `clinic audit verify`."""
    row = await latest_checkpoint(pool)
    if not row:
        return IntegrityStatus(checkpoint=None, tree_size=0, events_after_checkpoint=0,
                               events_not_in_tree=0)
    problem = None
    try:
        opened = open_checkpoint(row["note"], *audit_verifier_keys(settings))
        if (opened.size, opened.root) != (row["size"], bytes(row["root"])):
            problem = "the signed note says otherwise than the stored checkpoint"
    except InvalidCheckpointError as exc:
        problem = str(exc)
    signed = SignedCheckpoint(
        origin=row["note"].split("\n", 1)[0], size=row["size"],
        root=base64.b64encode(bytes(row["root"])).decode(), signed_at=row["created_at"],
        note=row["note"], signature_valid=problem is None, problem=problem)
    return IntegrityStatus(checkpoint=signed, tree_size=row["tree_size"],
                           events_after_checkpoint=row["after_checkpoint"],
                           events_not_in_tree=row["after_tree"])


def _stated_purpose(request: Request, officer: Actor, include_phi: bool
                    ) -> PurposeOfUse | None:
    """PHI is shown for a purpose the officer states, never a default."""
    if not include_phi:
        return None
    if request.headers.get(PURPOSE_HEADER) is None:
        raise ProblemError("validation-error", "include_phi needs X-Purpose-Of-Use: the "
                           "reason for looking is recorded with the look",
                           error="purpose-required")
    return purpose_of(request, officer)
