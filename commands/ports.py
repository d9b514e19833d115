"""What the use cases ask of the outside world; infra/ implements each port."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.slots import Slot
from domain.telehealth import JoinClaims, Participant


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


@dataclass(frozen=True)
class SlotInfo(Slot):
    """A slot as the catalogue knows it, and until when it can be booked."""

    book_by: datetime


class SlotCatalog(Protocol):
    def slot(self, slot_id: UUID) -> SlotInfo | None:
        """A slot the search offered (open or not), or None if no such slot exists."""

    def open_between(self, provider_id: UUID, clinic_id: UUID, service_id: UUID,
                     start_from: datetime, start_to: datetime, limit: int) -> list[SlotInfo]:
        """Slots the search offers as open, still bookable, starting in [from, to), soonest
        first (the read model: the booking decides)."""


@dataclass(frozen=True)
class Hold:
    hold_id: UUID
    slot_id: UUID
    holder: str
    expires_at: datetime


class HoldLimitReached(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many holds")
        self.retry_after = retry_after


class Holds(Protocol):
    def place(self, slot_id: UUID, holder: str, secret: str, ttl_ms: int,
              max_per_holder: int) -> Hold | None:
        """Hold a slot (None if someone holds it); HoldLimitReached past the holder's limit."""

    def holding(self, slot_id: UUID) -> tuple[Hold, str] | None:
        """The current hold on a slot and its secret's hash."""

    def release(self, slot_id: UUID, hold_id: UUID) -> None: ...

    def extend(self, slot_id: UUID, hold_id: UUID, ttl_ms: int,
               most: int) -> datetime | bool | None:
        """Keep the hold `ttl_ms` from now: its new expiry; None if it is gone, False once
        it was extended `most` times."""

    def release_all(self, holder: str) -> int:
        """Release every hold of one holder (erasure); returns how many."""


@dataclass(frozen=True)
class Replay:
    body: dict[str, Any]


class KeyInFlight(Exception):
    pass


class KeyReused(Exception):
    pass


class IdempotencyRecords(Protocol):
    """What a creating command answered, per caller and Idempotency-Key, for a while."""

    def begin(self, scope: str, key: str, command: bytes) -> Replay | None:
        """None: go ahead (now in flight); a Replay: the first answer. KeyReused when
        `command` differs from the first; KeyInFlight while the first still runs."""

    def complete(self, scope: str, key: str, command: bytes, body: dict[str, Any]) -> None: ...
    def abandon(self, scope: str, key: str) -> None: ...


class CareTeam(Protocol):
    def treats(self, provider_subject: str, patient_id: UUID) -> bool:
        """Whether the patient has (or had) a visit with this provider."""

    def visits_at(self, clinic_ids: frozenset[UUID], patient_id: UUID) -> bool:
        """Whether the patient has (or had) a visit at one of these clinics."""


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


class PatientRecords(Protocol):
    """What erasure and retention look up in the read models."""

    def caught_up(self, head: int, timeout: float) -> bool:
        """Whether the appointments read model has seen the event log up to `head`."""

    def upcoming_visits(self, patient_id: UUID, now: datetime) -> list[UUID]: ...
    def retention_candidates(self, cutoff: datetime, limit: int) -> list[UUID]:
        """Patients inactive since `cutoff`, and erasures left unfinished."""

    def unverified_registrations(self, before: datetime, limit: int) -> list[UUID]:
        """Registrations made before `before` whose address the read model has never seen
        verified (the caller checks each against the event store)."""


class Mailbox(Protocol):
    def forget(self, patient_id: UUID) -> int:
        """Drop every kept message to a patient (erasure); returns how many."""


class PersonalDataKeys(Protocol):
    """Each patient's PHI is sealed with a key of their own (infra/crypto)."""

    def shred(self, subject: UUID) -> None:
        """Destroy the patient's key: their PHI becomes unreadable everywhere, for good."""

    def vacuum(self) -> None:
        """Forget destroyed keys' tombstones where the store allows it."""

    def close(self) -> None: ...


class CommandMetrics(Protocol):
    """Outcome counters (infra/observability): ids and outcome names, never PHI."""

    def booking(self, outcome: str) -> None:
        """booked, conflict or rejected."""

    def booking_conflict(self, command: str) -> None:
        """book or reschedule lost a race (slot-taken)."""

    def sign_in_refused(self, reason: str) -> None:
        """wrong or expired."""


class ReadsManyStreams(ABC):
    """A recorder that reads several aggregates' events in one round trip
    (infra.eventstore.recorder.SingleTripRecorder). An ABC, not a runtime-checkable
    Protocol: the check runs on every booking, and a Protocol's isinstance inspects every
    member."""

    @abstractmethod
    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]: ...


@dataclass(frozen=True)
class AuditEntry:
    """One access record: a read of PHI, or a refused request (infra/postgres/audit_trail.py).
    Changes need none: every event records who made it (domain/provenance.py)."""

    actor: str
    role: str
    action: str  # "read" (PHI shown) or "denied"
    resource: str  # "METHOD /route/{template}", or the CLI command
    purpose: str
    outcome: str  # "allowed" | "denied"
    status: int
    request_id: str
    patient_id: UUID | None = None  # whose PHI, when one patient's
    record_id: str | None = None  # the record read (appointment id, provider/day...)
    detail: str = ""  # the problem code of a denial
    client: str = ""  # keyed hash of the client address


class AccessTrail(Protocol):
    def record(self, *entries: AuditEntry) -> None:
        """Append, in one transaction; raises if they cannot be stored (then show nothing)."""


@dataclass(frozen=True)
class TimelineRow:
    source: int  # 0: a change (an event), 1: an access record; at one instant changes first
    id: int  # the change's notification id, the access record's id
    at: datetime
    actor: str
    role: str
    purpose: str
    request_id: str
    description: str
    record_id: str | None
    event: str | None
    version: int | None
    patient_id: UUID | None
    outcome: str | None


class AuditRecords(Protocol):
    def timeline(self, of: str, subject: str, after: tuple[datetime, int, int] | None,
                 limit: int) -> list[TimelineRow]:
        """Changes about `subject` (or made by it, for an actor) merged with its access
        records, ordered by (at, source, id), after the cursor's (at, source, id)."""


@dataclass(frozen=True)
class RowReject:
    """Why one imported row was set aside: every reason is one of these (docs/ingest.md)."""

    row: int  # 1 is the first data row (a CSV's header is row 0); 0: not a row (missing)
    column: str
    value: str
    rule: str  # a stable code: pydantic's error type, or a domain error's code
    message: str


@dataclass
class IngestRunRecord:
    """One ingestion run as it is recorded (infra/postgres/ingest_runs.py)."""

    run_id: UUID
    source: str
    kind: str  # one kind, or several joined by ','
    mode: str  # delta | snapshot
    dry_run: bool
    all_or_nothing: bool
    started_by: str
    request_id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # running | completed | failed
    rows_read: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    missing: list[str] = field(default_factory=list)  # "kind/external id" absent from the input
    retired: list[str] = field(default_factory=list)
    error: str | None = None  # why the source stopped being read (what was read still counts)


class IngestRuns(Protocol):
    """Where ingestion runs, their rejected rows and each source's ids are kept."""

    def start(self, run: IngestRunRecord) -> None: ...
    def finish(self, run: IngestRunRecord, rejects: Sequence[RowReject]) -> None: ...
    def known_ids(self, source: str, kind: str) -> dict[str, UUID]:
        """Every external id this source has brought in for `kind`, with our id."""

    def remember(self, source: str, kind: str, ids: dict[str, UUID]) -> None: ...


class WaitlistBoard(Protocol):
    """The active waitlist as the read model has it (infra/postgres/waitlist.py); the entries
    themselves decide, so a lagging row costs a look, never a wrong offer."""

    def in_line_for(self, freed: Slot, passed_over: Collection[UUID],
                    limit: int) -> list[UUID]:
        """Waiting entries whose constraints the freed time meets, in offer order
        (domain/waitlist.py: in_line), less those `passed_over`."""

    def offered_on(self, slot_id: UUID) -> list[UUID]:
        """Entries with an open offer of this slot."""

    def waiting_at(self, provider_id: UUID, clinic_id: UUID, service_ids: Collection[UUID],
                   joined_before: datetime, limit: int) -> list[UUID]:
        """Entries waiting since before `joined_before` that a time of this provider at
        this clinic (of one of these services) could suit, in offer order."""


class SecretBox(Protocol):
    """Keeps a secret we must use again (a webhook's signing secret) sealed at rest, under a
    key of its own (infra/crypto/webhook_secrets.py): shredding the key destroys the secret."""

    def seal(self, subject: UUID, secret: str) -> str: ...
    def open(self, subject: UUID, sealed: str) -> str | None:
        """The secret; None once the subject's key was shredded."""

    def shred(self, subject: UUID) -> None: ...


class WebhookDeliveryLog(Protocol):
    """The webhook deliveries as the dispatcher records them (infra/postgres/
    webhook_deliveries.py)."""

    def redeliver(self, delivery: UUID, by: str) -> str | None:
        """Make a dead delivery pending again; the status it had (None: no such delivery)."""
