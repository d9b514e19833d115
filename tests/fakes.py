"""Fakes for unit tests only: each subclasses the real port it stands in for."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from commands.application import ClinicApplication
from commands.ports import (
    AuditEntry,
    CareTeam,
    CodeCheck,
    CommandMetrics,
    Hold,
    HoldLimitReached,
    Holds,
    IdempotencyRecords,
    IngestRunRecord,
    JoinLinks,
    KeyInFlight,
    KeyReused,
    OneTimeCodes,
    PatientRecords,
    ReceiptSigner,
    Replay,
    RowReject,
    SecretBox,
    SessionGrant,
    Sessions,
    Signature,
    SlotCatalog,
    SlotInfo,
    TimelineRow,
    WebhookDeliveryLog,
)
from commands.use_cases import Adapters, Policy, UseCases
from domain.telehealth import JoinClaims, Participant
from infra.crypto.datakeys import TOMBSTONE, DataKeys, SubjectErasedError
from infra.crypto.phi import PhiCipher
from infra.eventstore.application import protect
from projections.timeline import entry_of


class InMemoryDataKeys(DataKeys):
    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[UUID, bytes | None] = {}

    def _load(self, subject: UUID) -> Any:
        if subject not in self.stored:
            return None
        return self.stored[subject] or TOMBSTONE

    def _create(self, subject: UUID, key: bytes) -> bytes:
        if subject in self.stored and self.stored[subject] is None:
            raise SubjectErasedError(str(subject))
        return self.stored.setdefault(subject, key) or key

    def _shred(self, subject: UUID) -> None:
        self.stored[subject] = None


def in_memory_application(*, snapshots: bool = False, **options: Any) -> ClinicApplication:
    """The application on eventsourcing's in-memory (POPO) store, PHI sealed as in prod."""
    cipher = PhiCipher(InMemoryDataKeys())
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo",
           "MAPPER_TOPIC": "infra.eventstore.mapper:ClinicMapper",
           "IS_SNAPSHOTTING_ENABLED": "y" if snapshots else "n"}
    app = ClinicApplication(env=env, data_keys=cipher, **options)
    protect(app, cipher)
    return app


# Fakes of the use cases' ports, for unit tests over the in-memory application --------------
class FakeSlots(SlotCatalog):
    def __init__(self) -> None:
        self.offered: dict[UUID, SlotInfo] = {}

    def slot(self, slot_id: UUID) -> SlotInfo | None:
        return self.offered.get(slot_id)

    def open_between(self, provider_id: UUID, clinic_id: UUID, service_id: UUID,
                     start_from: datetime, start_to: datetime, limit: int) -> list[SlotInfo]:
        return sorted((s for s in self.offered.values()
                       if (s.provider_id, s.clinic_id, s.service_id) ==
                       (provider_id, clinic_id, service_id)
                       and start_from <= s.start < start_to), key=lambda s: s.start)[:limit]


class FakeHolds(Holds):
    def __init__(self) -> None:
        self.held: dict[UUID, tuple[Hold, str]] = {}
        self.extended: dict[UUID, int] = {}

    def place(self, slot_id: UUID, holder: str, secret: str, ttl_ms: int,
              max_per_holder: int) -> Hold | None:
        if slot_id in self.held:
            return None
        if sum(h.holder == holder for h, _ in self.held.values()) >= max_per_holder:
            raise HoldLimitReached(retry_after=ttl_ms // 1000)
        hold = Hold(uuid4(), slot_id, holder, datetime.now(UTC) + timedelta(milliseconds=ttl_ms))
        self.held[slot_id] = (hold, secret)
        return hold

    def holding(self, slot_id: UUID) -> tuple[Hold, str] | None:
        return self.held.get(slot_id)

    def release(self, slot_id: UUID, hold_id: UUID) -> None:
        if slot_id in self.held and self.held[slot_id][0].hold_id == hold_id:
            del self.held[slot_id]

    def extend(self, slot_id: UUID, hold_id: UUID, ttl_ms: int,
               most: int) -> datetime | bool | None:
        current = self.held.get(slot_id)
        if current is None or current[0].hold_id != hold_id:
            return None
        if self.extended.get(hold_id, 0) >= most:
            return False
        self.extended[hold_id] = self.extended.get(hold_id, 0) + 1
        hold = Hold(hold_id, slot_id, current[0].holder,
                    datetime.now(UTC) + timedelta(milliseconds=ttl_ms))
        self.held[slot_id] = (hold, current[1])
        return hold.expires_at

    def release_all(self, holder: str) -> int:
        mine = [s for s, (h, _) in self.held.items() if h.holder == holder]
        for slot_id in mine:
            del self.held[slot_id]
        return len(mine)


class FakeIdempotency(IdempotencyRecords):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[bytes, dict[str, Any] | None]] = {}

    def begin(self, scope: str, key: str, command: bytes) -> Replay | None:
        if (scope, key) not in self.records:
            self.records[scope, key] = (command, None)
            return None
        first, body = self.records[scope, key]
        if first != command:
            raise KeyReused
        if body is None:
            raise KeyInFlight
        return Replay(body)

    def complete(self, scope: str, key: str, command: bytes, body: dict[str, Any]) -> None:
        self.records[scope, key] = (command, body)

    def abandon(self, scope: str, key: str) -> None:
        self.records.pop((scope, key), None)


class FakeCodes(OneTimeCodes):
    def __init__(self) -> None:
        self.issued: dict[UUID, str] = {}

    def issue(self, subject: UUID) -> str:
        self.issued[subject] = f"{secrets.randbelow(10**6):06d}"
        return self.issued[subject]

    def check(self, subject: UUID, code: str) -> CodeCheck:
        if self.issued.get(subject) is None:
            return CodeCheck.expired
        if self.issued[subject] != code:
            return CodeCheck.wrong
        del self.issued[subject]
        return CodeCheck.accepted

    def revoke(self, subject: UUID) -> None:
        self.issued.pop(subject, None)


class FakeSessions(Sessions):
    def __init__(self) -> None:
        self.live: dict[str, str] = {}  # session id -> subject

    def sign_in(self, patient_id: UUID | str) -> SessionGrant:
        session_id = secrets.token_hex(8)
        self.live[session_id] = str(patient_id)
        return SessionGrant(access_token=f"session:{session_id}", expires_in=3600,
                            idle_timeout=1800)

    def end(self, subject: str, session_id: str | None) -> None:
        if session_id is not None and self.live.get(session_id) == subject:
            del self.live[session_id]

    def end_all(self, patient_id: UUID) -> int:
        mine = [s for s, who in self.live.items() if who == str(patient_id)]
        for session_id in mine:
            del self.live[session_id]
        return len(mine)


class FakeCareTeam(CareTeam):
    def __init__(self) -> None:
        self.pairs: set[tuple[str, UUID]] = set()
        self.visits: set[tuple[UUID, UUID]] = set()  # (clinic, patient)

    def treats(self, provider_subject: str, patient_id: UUID) -> bool:
        return (provider_subject, patient_id) in self.pairs

    def visits_at(self, clinic_ids: frozenset[UUID], patient_id: UUID) -> bool:
        return any((clinic, patient_id) in self.visits for clinic in clinic_ids)


class FakeRecords(PatientRecords):
    def __init__(self) -> None:
        self.upcoming: dict[UUID, list[UUID]] = {}
        self.candidates: list[UUID] = []

    def caught_up(self, head: int, timeout: float) -> bool:
        return True

    def upcoming_visits(self, patient_id: UUID, now: datetime) -> list[UUID]:
        return self.upcoming.get(patient_id, [])

    def retention_candidates(self, cutoff: datetime, limit: int) -> list[UUID]:
        return self.candidates[:limit]

    def unverified_registrations(self, before: datetime, limit: int) -> list[UUID]:
        return []


class FakeSigner(ReceiptSigner):
    def sign(self, receipt: dict[str, Any]) -> Signature:
        digest = hashlib.sha512(json.dumps(receipt, sort_keys=True).encode()).digest()
        return Signature("fa4e51ed", base64.b64encode(digest).decode())

    def verify(self, receipt: dict[str, Any], signature: Signature) -> bool:
        return self.sign(receipt) == signature

    def verifier_keys(self) -> list[str]:
        return ["fake+fa4e51ed+AQ=="]


class FakeJoinLinks(JoinLinks):
    early = timedelta(minutes=15)

    def url_for(self, appointment_id: UUID, role: Participant, participant_id: UUID,
                start: datetime, end: datetime) -> str:
        return f"join:{appointment_id}:{role.value}:{participant_id}:{start.isoformat()}"

    def verify(self, token: str) -> JoinClaims:
        _, appointment, role, participant, start = token.split(":", 4)
        return JoinClaims(UUID(appointment), Participant(role), UUID(participant),
                          datetime.fromisoformat(start), datetime.max.replace(tzinfo=UTC))

    def opens_at(self, start: datetime) -> datetime:
        return start - self.early

    def room_id(self, appointment_id: UUID) -> str:
        return f"room-{appointment_id}"


class CountedMetrics(CommandMetrics):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def booking(self, outcome: str) -> None:
        self.counts[f"booking:{outcome}"] += 1

    def booking_conflict(self, command: str) -> None:
        self.counts[f"conflict:{command}"] += 1

    def sign_in_refused(self, reason: str) -> None:
        self.counts[f"sign-in:{reason}"] += 1


class NoAuditRecords:
    """Unit tests have no read models: the timeline is empty."""

    def timeline(self, of: str, subject: str, after: tuple[datetime, int, int] | None,
                 limit: int) -> list[TimelineRow]:
        return []


class RecordedAccess:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, *entries: AuditEntry) -> None:
        self.entries.extend(entries)


class KeptIngestRuns:
    """Ingestion runs kept in memory (the real port: infra/postgres/ingest_runs.py)."""

    def __init__(self) -> None:
        self.runs: dict[UUID, IngestRunRecord] = {}
        self.rejects: dict[UUID, list[RowReject]] = {}
        self.ids: dict[tuple[str, str], dict[str, UUID]] = {}

    def start(self, run: IngestRunRecord) -> None:
        self.runs[run.run_id] = run

    def finish(self, run: IngestRunRecord, rejects: Sequence[RowReject]) -> None:
        self.runs[run.run_id], self.rejects[run.run_id] = run, list(rejects)

    def known_ids(self, source: str, kind: str) -> dict[str, UUID]:
        return dict(self.ids.get((source, kind), {}))

    def remember(self, source: str, kind: str, ids: dict[str, UUID]) -> None:
        self.ids.setdefault((source, kind), {}).update(ids)


class TimedAccess(RecordedAccess):
    """The access trail with each record's time and id, as audit_events keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.stamped: list[tuple[datetime, int, AuditEntry]] = []

    def record(self, *entries: AuditEntry) -> None:
        super().record(*entries)
        now = datetime.now(UTC)
        self.stamped.extend((now, len(self.stamped) + 1, e) for e in entries)


class ReplayedAuditRecords:
    """The audit timeline read from the in-memory event log on each call, each event indexed
    under the records it is about as infra/postgres/audit_timeline.py does, merged with the
    access records as infra/postgres/audit_records.py does."""

    def __init__(self, app: ClinicApplication, access: TimedAccess) -> None:
        self.app, self.access = app, access

    def timeline(self, of: str, subject: str, after: tuple[datetime, int, int] | None,
                 limit: int) -> list[TimelineRow]:
        rows = [*self._changes(of, subject), *self._accesses(of, subject)]
        rows.sort(key=lambda r: (r.at, r.source, r.id))
        return [r for r in rows if after is None or (r.at, r.source, r.id) > after][:limit]

    def _changes(self, of: str, subject: str) -> list[TimelineRow]:
        links: dict[UUID, set[UUID]] = {}
        patients: dict[UUID, UUID] = {}
        rows = []
        for stored in self.app.recorder.select_notifications(start=1, limit=1_000_000):
            entry = entry_of(stored.id, self.app.mapper.to_domain_event(stored))
            known = links.setdefault(entry.record_id, set())
            about = {str(s) for s in {entry.record_id} | entry.named | known}
            known.update(entry.links)
            if entry.patient_id is not None and entry.version == 1:
                patients.setdefault(entry.record_id, entry.patient_id)
            if subject == entry.actor if of == "actor" else subject in about:
                rows.append(TimelineRow(
                    0, entry.position, entry.recorded_at, entry.actor, entry.role,
                    entry.purpose, entry.request_id, entry.summary, str(entry.record_id),
                    entry.event, entry.version,
                    entry.patient_id or patients.get(entry.record_id), None))
        return rows

    def _accesses(self, of: str, subject: str) -> list[TimelineRow]:
        def about(e: AuditEntry) -> bool:
            return {"patient": str(e.patient_id), "actor": e.actor}.get(of, e.record_id) \
                == subject

        def description(e: AuditEntry) -> str:
            said = f" ({e.status} {e.detail})" if e.outcome == "denied" else \
                f" ({e.detail})" if e.detail else ""
            return f"{e.action} {e.resource}{said}"

        return [TimelineRow(1, n, at, e.actor, e.role, e.purpose, e.request_id,
                            description(e), e.record_id, None, None, e.patient_id, e.outcome)
                for at, n, e in self.access.stamped if about(e)]


class SealedSecrets(SecretBox):
    """Secrets sealed under a key of each subject's own (infra/crypto/webhook_secrets.py):
    the sealed text names only the key; shredding the key loses the secret."""

    def __init__(self) -> None:
        self.keys: dict[UUID, dict[str, str] | None] = {}  # subject -> sealed -> secret

    def seal(self, subject: UUID, secret: str) -> str:
        kept = self.keys.setdefault(subject, {})
        if kept is None:
            raise SubjectErasedError(str(subject))
        sealed = f"sealed:{subject}:{secrets.token_hex(8)}"
        kept[sealed] = secret
        return sealed

    def open(self, subject: UUID, sealed: str) -> str | None:
        kept = self.keys.get(subject)
        return None if kept is None else kept[sealed]

    def shred(self, subject: UUID) -> None:
        self.keys[subject] = None


class KeptDeliveries(WebhookDeliveryLog):
    """The webhook delivery log's statuses (infra/postgres/webhook_deliveries.py)."""

    def __init__(self) -> None:
        self.status: dict[UUID, str] = {}
        self.requeued_by: dict[UUID, str] = {}

    def redeliver(self, delivery: UUID, by: str) -> str | None:
        had = self.status.get(delivery)
        if had == "dead":
            self.status[delivery], self.requeued_by[delivery] = "pending", by
        return had


def fake_adapters(app: ClinicApplication | None = None) -> Adapters:
    """Fakes of every port; given the application, the audit timeline replays its events."""
    access = TimedAccess()
    audit_records = NoAuditRecords() if app is None else ReplayedAuditRecords(app, access)
    return Adapters(email_key=b"unit-test-email-index-key-32byte",
                    offer_key=b"unit-test-waitlist-offer-key-32b", slots=FakeSlots(),
                    holds=FakeHolds(), idempotency=FakeIdempotency(), codes=FakeCodes(),
                    sessions=FakeSessions(), care_team=FakeCareTeam(), records=FakeRecords(),
                    receipts=FakeSigner(), join_links=FakeJoinLinks(),
                    metrics=CountedMetrics(), audit_records=audit_records,
                    access=access, ingest_runs=KeptIngestRuns(), secrets=SealedSecrets(),
                    webhook_deliveries=KeptDeliveries())


def in_memory_use_cases(app: ClinicApplication | None = None,
                        policy: Policy | None = None) -> UseCases:
    """Every use case over the in-memory application, each port a fake."""
    app = app or in_memory_application()
    return UseCases.compose(app, fake_adapters(app), policy or Policy())


def between_read_and_save(app: ClinicApplication, when: Callable[[tuple[UUID, ...]], bool],
                           meanwhile: Callable[[], None]) -> None:
    """Run `meanwhile` once, right after the first read for which `when(ids)` holds: the
    other command reads and saves between this one's read and its save."""
    read = app.get_many
    done = False

    def get_many(*ids: UUID) -> dict[UUID, Any]:
        nonlocal done
        found = read(*ids)
        if not done and when(ids):
            done = True
            meanwhile()
        return found

    app.get_many = get_many  # type: ignore[method-assign]
