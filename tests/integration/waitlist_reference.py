"""The waitlist as docs/waitlist.md states it, written again for the model-based test
(tests/integration/test_waitlist_model_real.py): which freed time suits which entry, the
offer order, and what each matcher pass does. Pure, and independent of the production code
(no domain.waitlist.in_line, no WaitlistEntry.matches): a test that reused them could not
catch them being wrong."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

OFFER_MINUTES = 15  # CLINIC_WAITLIST_OFFER_MINUTES' default
LOOK_AHEAD = 20  # how much of the line one step reads (commands/offers.py)


@dataclass(frozen=True)
class Time:
    """A slot of a service, at a clinic, with a provider."""

    slot_id: UUID
    provider: UUID
    clinic: UUID
    service: UUID
    start: datetime
    end: datetime
    video: bool  # a telehealth visit: needs telehealth consent too


@dataclass
class Waiting:
    """One waitlist entry as the patient asked for it ("earlier than my booking" already
    narrowed to its visit's provider and clinic, ending at its start)."""

    entry_id: UUID
    patient: UUID
    service: UUID
    clinics: frozenset[UUID]  # empty: any clinic
    provider: UUID | None
    not_before: datetime
    not_after: datetime
    joined: int  # the order of joining, as the model saw it
    instead_of: UUID | None = None
    priority: int = 0
    status: str = "waiting"  # waiting | offered | booked | left
    offered_on: UUID | None = None  # the opening whose offer is open
    last_offer: UUID | None = None  # the offer id last seen open (for stale accepts)
    booked_offer: UUID | None = None
    appointment: UUID | None = None

    def suits(self, time: Time) -> bool:
        """The documented match: the service, one of its clinics (or none named), its
        provider (or none named), and the slot inside the window."""
        return (time.service == self.service
                and (not self.clinics or time.clinic in self.clinics)
                and (self.provider is None or self.provider == time.provider)
                and self.not_before <= time.start and time.end <= self.not_after)


@dataclass
class Freed:
    """A freed time: offered one entry at a time, each entry at most once, until accepted."""

    opening_id: UUID
    time: Time
    order: int  # freed first, looked at first
    offered_to: UUID | None = None
    offered_at: float = 0.0
    tried: set[UUID] = field(default_factory=set)  # offered it, or passed over for it
    skipped: set[UUID] = field(default_factory=set)  # passed over: consent withdrawn
    offers: int = 0
    accepted_by: UUID | None = None


@dataclass
class Reference:
    entries: dict[UUID, Waiting] = field(default_factory=dict)
    freed: list[Freed] = field(default_factory=list)
    minutes: float = 0.0  # the matcher's clock, in minutes since the example began
    joins: int = 0
    consents: dict[UUID, set[str]] = field(default_factory=dict)  # patient -> purposes

    def may_book(self, patient: UUID, time: Time) -> bool:
        """Every visit needs consent to treatment, a video visit to telehealth as well."""
        needed = {"treatment", "telehealth"} if time.video else {"treatment"}
        return needed <= self.consents.get(patient, set())

    def join(self, entry: Waiting) -> None:
        self.entries[entry.entry_id] = entry

    def next_join(self) -> int:
        self.joins += 1
        return self.joins

    def free(self, opening_id: UUID, time: Time) -> Freed:
        freed = Freed(opening_id, time, len(self.freed))
        self.freed.append(freed)
        return freed

    def line(self, freed: Freed, waited: set[UUID] | None = None) -> list[Waiting]:
        """Who is in line for the time, first first: waiting entries it suits that were not
        offered it before (and, in a pass, that were `waited` already as it began); higher
        priority first, then the one that joined first."""
        suited = [e for e in self.entries.values() if e.status == "waiting"
                  and (waited is None or e.entry_id in waited)
                  and e.entry_id not in freed.tried and e.suits(freed.time)]
        return sorted(suited, key=lambda e: (-e.priority, e.joined))

    def open_on(self, slot_id: UUID) -> Freed | None:
        return next((f for f in self.freed if f.time.slot_id == slot_id
                     and f.accepted_by is None), None)

    def step(self) -> Counter[str]:
        """One matcher pass, freed times in the order they were freed: an open offer past its
        minutes lapses (the next pass offers on); a time without an open offer goes to the
        first in line (passing over, on record, one whose consent is withdrawn; of the first
        LOOK_AHEAD), or to nobody. The line is read as the pass began (the matcher reads
        it from the read model, caught up before the pass): an entry whose offer lapses in
        this pass is in line again from the next one."""
        outcomes: Counter[str] = Counter()
        waited = {e.entry_id for e in self.entries.values() if e.status == "waiting"}
        for freed in sorted(self.freed, key=lambda f: f.order):
            if freed.accepted_by is not None:
                continue
            if freed.offered_to is not None:
                if self.minutes - freed.offered_at >= OFFER_MINUTES:
                    self.lapse(freed)
                    outcomes["expired"] += 1
                continue
            first = None
            for entry in self.line(freed, waited)[:LOOK_AHEAD]:
                freed.tried.add(entry.entry_id)
                if self.may_book(entry.patient, freed.time):
                    first = entry
                    break
                freed.skipped.add(entry.entry_id)
            if first is None:
                outcomes["nobody"] += 1
                continue
            freed.offered_to, freed.offered_at = first.entry_id, self.minutes
            freed.offers += 1
            first.status, first.offered_on = "offered", freed.opening_id
            outcomes["offered"] += 1
        return outcomes

    def lapse(self, freed: Freed) -> None:
        """The offer ended unanswered (expired, or declined by leaving)."""
        assert freed.offered_to is not None
        entry = self.entries[freed.offered_to]
        if entry.status == "offered":
            entry.status = "waiting"
        entry.offered_on, freed.offered_to = None, None

    def leave(self, entry: Waiting) -> None:
        if entry.status == "offered":
            freed = next(f for f in self.freed if f.opening_id == entry.offered_on)
            self.lapse(freed)
        entry.status = "left"

    def accepted(self, entry: Waiting, appointment: UUID) -> Freed:
        freed = next(f for f in self.freed if f.opening_id == entry.offered_on)
        freed.accepted_by, freed.offered_to = entry.entry_id, None
        entry.status, entry.offered_on, entry.appointment = "booked", None, appointment
        entry.booked_offer = entry.last_offer
        return freed
