"""Replay as a timeline: every change to a patient's, visit's, provider's or clinic's records
(or everything one actor did), in order, merged with the PHI reads and refusals; PHI only
when the officer states a purpose, and that look is itself an audited read
(docs/compliance.md)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from commands.application import ClinicApplication
from commands.audit import phi_shown
from commands.context import Actor
from commands.ports import AccessTrail, AuditRecords, TimelineRow
from domain.access import PurposeOfUse
from domain.errors import InvalidInputError
from domain.privacy import phi_of


class TimelineOf(StrEnum):
    patient = "patient"
    appointment = "appointment"
    provider = "provider"
    clinic = "clinic"
    record = "record"  # any record by its id (a consent, a schedule, a calendar day, ...)
    actor = "actor"  # everything one person or process did and read


class InvalidCursorError(InvalidInputError):
    code = "invalid-cursor"


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # "change" (an event) or "access" (a PHI read or a refused request)
    actor: str
    role: str
    purpose: str
    request_id: str
    description: str
    record_id: str | None  # the changed record, or the record read
    event: str | None = None  # a change's event type
    version: int | None = None  # the record's version after the change
    position: int | None = None  # a change's notification id: its place in the event log
    patient_id: UUID | None = None  # whose record was changed or read, if a patient's
    outcome: str | None = None  # an access record's: allowed | denied
    phi: dict[str, Any] | None = None  # the change's PHI, only when asked with a purpose


@dataclass(frozen=True)
class TimelinePage:
    of: TimelineOf
    subject: str
    items: list[TimelineItem]
    next_cursor: str | None


class Timeline:
    def __init__(self, app: ClinicApplication, records: AuditRecords,
                 trail: AccessTrail) -> None:
        self.app, self.records, self.trail = app, records, trail

    def page(self, of: TimelineOf, subject: str, actor: Actor, *, cursor: str | None = None,
             limit: int = 100, show_phi_for: PurposeOfUse | None = None,
             door: str = "timeline") -> TimelinePage:
        """One page, oldest first. `show_phi_for` (the officer's stated purpose) adds each
        change's PHI; first an access record per patient and record whose PHI is shown."""
        if of is not TimelineOf.actor:
            subject = str(_record_id(subject))
        rows = self.records.timeline(of.value, subject, _decode(cursor), limit + 1)
        items = [_item(row) for row in rows[:limit]]
        if show_phi_for is not None:
            items = self._with_phi(items, actor, show_phi_for, door)
        more = len(rows) > limit
        return TimelinePage(of, subject, items, _encode(rows[limit - 1]) if more else None)

    def _with_phi(self, items: list[TimelineItem], actor: Actor, purpose: PurposeOfUse,
                  door: str) -> list[TimelineItem]:
        """Each change's PHI from its stored event (every record of the page read in one
        query), after an access record per patient and record shown."""
        changes = [n for n, item in enumerate(items) if item.record_id and item.version]
        streams = self.app.streams(*(UUID(str(items[n].record_id)) for n in changes))
        shown: dict[int, tuple[dict[str, Any], UUID]] = {}
        for n in changes:
            item = items[n]
            event = streams[UUID(str(item.record_id))][int(item.version or 0) - 1]
            declared = phi_of(type(event))
            if declared is not None:
                fields = {name: getattr(event, name, None) for name in sorted(declared.fields)}
                shown[n] = (fields, getattr(event, declared.subject))
        looked = dict.fromkeys((patient, items[n].record_id) for n, (_, patient) in shown.items())
        self.trail.record(*(phi_shown(actor, purpose, door, patient, record)
                            for patient, record in looked))
        return [replace(item, phi=shown[n][0]) if n in shown else item
                for n, item in enumerate(items)]


def _record_id(subject: str) -> UUID:
    try:
        return UUID(subject)
    except ValueError:
        raise InvalidInputError("the subject must be a record id (a UUID)") from None


def _item(row: TimelineRow) -> TimelineItem:
    if row.source == 0:
        return TimelineItem(
            at=row.at, kind="change", actor=row.actor, role=row.role, purpose=row.purpose,
            request_id=row.request_id, description=row.description,
            record_id=row.record_id, event=row.event, version=row.version,
            position=row.id, patient_id=row.patient_id)
    return TimelineItem(
        at=row.at, kind="access", actor=row.actor, role=row.role, purpose=row.purpose,
        request_id=row.request_id, description=row.description, record_id=row.record_id,
        patient_id=row.patient_id, outcome=row.outcome)


def _encode(row: TimelineRow) -> str:
    raw = f"{row.at.isoformat()}|{row.source}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[datetime, int, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, source, position = raw.split("|")
        return datetime.fromisoformat(at), int(source), int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError("cursor is not one this timeline returned") from None
