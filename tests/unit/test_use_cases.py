"""Every use case called the way a door calls it, without FastAPI or a server: a command
model and an Actor in, a result or a domain error out (decision 0033). The in-memory event
store, and fakes of the ports (tests/fakes.py)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from commands.booking import BookingCreate, Reschedule
from commands.consents import ConsentGrant, Receipt
from commands.context import SYSTEM_ACTOR, Actor
from commands.erasure import ErasureRequest
from commands.holds import HoldCreate, HoldLimitError, HoldNotFoundError, HoldProof, SlotHeldError
from commands.idempotency import (
    IDEMPOTENCY_NAMESPACE,
    IdempotencyKey,
    IdempotencyKeyReusedError,
)
from commands.models import (
    AddressIn,
    AvailabilityIn,
    ClinicCreate,
    ProviderCreate,
    ServiceCreate,
    Weekly,
)
from commands.patients import CodeRequest, ContactUpdate, PatientCreate
from commands.ports import SlotInfo
from commands.sign_in import CodeVerification, InvalidCodeError
from commands.use_cases import UseCases
from domain.access import Role
from domain.appointments import AppointmentStatus
from domain.calendars import SlotTakenError
from domain.consent import POLICIES, ConsentRequiredError, Purpose
from domain.errors import ForbiddenError, InvalidInputError
from domain.modality import Modality
from domain.patients import ErasureBasis, PatientErasedError
from domain.record_access import HiddenRecordError
from domain.telehealth import InvalidJoinLinkError
from tests.builders import ALL_DAY, first_slot
from tests.driver import ClinicDriver
from tests.fakes import FakeCodes, FakeRecords, FakeSessions, FakeSlots, in_memory_use_cases

ADMIN = Actor("ops", Role.admin)


class Clinic:
    """One clinic, one telehealth-capable provider, two services; slots offered by hand."""

    def __init__(self) -> None:
        self.uc: UseCases = in_memory_use_cases()
        d = self.uc.directory
        address = AddressIn(line="1 Main St", city="Boston", state="MA", postal_code="02110")
        self.clinic = d.register_clinic(ClinicCreate(
            name="Harbor", address=address, time_zone="America/New_York",
            modalities=[Modality.in_person, Modality.telehealth]), ADMIN).id
        self.checkup = d.register_service(ServiceCreate(
            name="Checkup", duration_minutes=30, modality=Modality.in_person), ADMIN).id
        self.video = d.register_service(ServiceCreate(  # short: one starts within minutes
            name="Video", duration_minutes=5, modality=Modality.telehealth), ADMIN).id
        self.provider = d.register_provider(ProviderCreate(
            display_name="Dr. One", clinic_ids=[self.clinic],
            service_ids=[self.checkup, self.video]), ADMIN).id
        d.publish_availability(self.provider, self.clinic, AvailabilityIn(
            weekly=Weekly(**ALL_DAY), granularity_minutes=5, min_notice_minutes=0), ADMIN)

    @property
    def slots(self) -> FakeSlots:
        slots = self.uc.holding.slots
        assert isinstance(slots, FakeSlots)
        return slots

    def offer(self, hours_ahead: float, service: uuid.UUID | None = None,
              notice: timedelta = timedelta(minutes=30)) -> SlotInfo:
        """The first time the provider's hours offer after `hours_ahead`, as a new slot."""
        offered = first_slot(ClinicDriver(self.uc), self.provider, self.clinic,
                             service or self.checkup,
                             datetime.now(UTC) + timedelta(hours=hours_ahead))
        slot = replace(offered, slot_id=uuid.uuid4(), book_by=offered.start - notice)
        self.slots.offered[slot.slot_id] = slot
        return slot

    def patient(self, email: str, *purposes: Purpose) -> Actor:
        """Registered, signed in with the emailed code, consenting: as the patient acts."""
        registered = self.uc.patients.register(PatientCreate(
            given_name="Ana", family_name="Lima", birth_date=date(1990, 1, 2), email=email),
            Actor("anonymous")).result
        codes = self.uc.sign_in.codes
        assert isinstance(codes, FakeCodes)
        code = codes.issue(registered.patient_id)
        self.uc.sign_in.verify(CodeVerification(email=email, code=code), Actor("anonymous"))
        actor = Actor(str(registered.patient_id), Role.patient)
        for purpose in purposes or (Purpose.treatment,):
            self.uc.consents.grant(registered.patient_id, ConsentGrant(
                purpose=purpose, policy_version=POLICIES[purpose].version), actor)
        return actor


@pytest.fixture
def world() -> Clinic:
    return Clinic()


def test_hours_are_published_by_admins_and_by_the_provider_only_for_themself(
        world: Clinic) -> None:
    hours = AvailabilityIn(weekly=Weekly(monday=[["09:00", "12:00"]]))
    schedule = world.uc.directory.publish_availability(
        world.provider, world.clinic, hours, Actor(str(world.provider), Role.provider))
    assert schedule.rules == hours.to_domain()
    with pytest.raises(ForbiddenError):
        world.uc.directory.publish_availability(world.provider, world.clinic, hours,
                                                Actor(str(uuid.uuid4()), Role.provider))


def test_a_held_slot_is_booked_by_its_holder_only_and_the_hold_is_then_released(
        world: Clinic) -> None:
    ana, bo = world.patient("ana@example.org"), world.patient("bo@example.org")
    slot = world.offer(48)
    hold = world.uc.holding.hold(HoldCreate(slot_id=slot.slot_id), ana, "pseudonym")
    with pytest.raises(SlotHeldError):
        world.uc.holding.hold(HoldCreate(slot_id=slot.slot_id), bo, "other")
    with pytest.raises(SlotHeldError):  # booking without the hold while another holds it
        world.uc.bookings.book(BookingCreate(slot_id=slot.slot_id), bo)
    with pytest.raises(SlotHeldError):  # the right hold id with a wrong secret
        world.uc.bookings.book(BookingCreate(slot_id=slot.slot_id, hold_id=hold.hold_id,
                                             hold_secret="guess"), bo)
    booked = world.uc.bookings.book(BookingCreate(
        slot_id=slot.slot_id, hold_id=hold.hold_id, hold_secret=hold.hold_secret,
        reason="cough"), ana).result
    assert booked.status == "booked" and str(booked.patient_id) == ana.subject
    assert world.uc.holding.holds.holding(slot.slot_id) is None
    with pytest.raises(HoldNotFoundError):
        world.uc.holding.release(slot.slot_id, hold.hold_id, hold.hold_secret)


def test_holds_per_holder_are_limited(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    for n in range(3):
        world.uc.holding.hold(HoldCreate(slot_id=world.offer(24 + n).slot_id), ana, "p")
    with pytest.raises(HoldLimitError) as refused:
        world.uc.holding.hold(HoldCreate(slot_id=world.offer(30).slot_id), ana, "p")
    assert refused.value.retry_after is not None


def test_only_an_open_slot_can_be_held(world: Clinic) -> None:
    """Moved from the FHIR door (test_fhir_search.py): a time the search shows booked is
    refused by the hold itself, on both doors, as the booking would refuse it."""
    ana = world.patient("ana@example.org")
    open_slot = world.offer(24)
    assert world.uc.holding.hold(HoldCreate(slot_id=open_slot.slot_id), ana, "p").hold_id
    booked = world.offer(26)
    world.slots.offered[booked.slot_id] = replace(booked, taken=True)
    with pytest.raises(SlotTakenError):
        world.uc.holding.hold(HoldCreate(slot_id=booked.slot_id), ana, "p")


def test_an_idempotency_key_books_once_and_answers_again(world: Clinic) -> None:
    ana, bo = world.patient("ana@example.org"), world.patient("bo@example.org")
    slot = world.offer(48)
    command = BookingCreate(slot_id=slot.slot_id)
    first = world.uc.bookings.book(command, ana, IdempotencyKey(ana.subject, "k-1"))
    again = world.uc.bookings.book(command, ana, IdempotencyKey(ana.subject, "k-1"))
    assert again.replayed and not first.replayed and again.result == first.result
    with pytest.raises(IdempotencyKeyReusedError):
        world.uc.bookings.book(BookingCreate(slot_id=world.offer(50).slot_id), ana,
                               IdempotencyKey(ana.subject, "k-1"))
    with pytest.raises(InvalidInputError):
        IdempotencyKey(bo.subject, "not a key")


def test_keys_given_before_the_use_cases_left_the_routes_derive_the_same_ids(
        world: Clinic) -> None:
    """The appointment id derived from a key is the one the API derived before decision
    0033 (caller, method, path, key): a retry across that deploy finds its booking."""
    ana = world.patient("ana@example.org")
    booked = world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id), ana,
                                    IdempotencyKey(ana.subject, "k-7")).result
    assert booked.id == uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{ana.subject}:POST:/bookings:k-7")


def test_a_retry_of_a_booking_made_with_a_hold_is_answered_again(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    slot = world.offer(48)
    hold = world.uc.holding.hold(HoldCreate(slot_id=slot.slot_id), ana, "p")
    command = BookingCreate(slot_id=slot.slot_id, hold_id=hold.hold_id,
                            hold_secret=hold.hold_secret)
    first = world.uc.bookings.book(command, ana, IdempotencyKey(ana.subject, "k-2"))
    again = world.uc.bookings.book(command, ana, IdempotencyKey(ana.subject, "k-2"))
    assert again.replayed and again.result == first.result  # not hold-not-found


def test_patients_book_for_themselves_and_staff_name_the_patient(world: Clinic) -> None:
    ana, bo = world.patient("ana@example.org"), world.patient("bo@example.org")
    with pytest.raises(HiddenRecordError):
        world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id,
                                             patient_id=uuid.UUID(bo.subject)), ana)
    desk = Actor("desk-1", Role.front_desk)
    with pytest.raises(InvalidInputError):
        world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id), desk)
    booked = world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id,
                                                  patient_id=uuid.UUID(bo.subject)), desk)
    assert str(booked.result.patient_id) == bo.subject


def test_a_visit_is_moved_cancelled_and_run_by_those_it_belongs_to(world: Clinic) -> None:
    ana, bo = world.patient("ana@example.org"), world.patient("bo@example.org")
    visit = world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id), ana).result
    later = world.offer(72)
    with pytest.raises(HiddenRecordError):
        world.uc.bookings.reschedule(visit.id, Reschedule(slot_id=later.slot_id), bo)
    moved = world.uc.bookings.reschedule(visit.id, Reschedule(slot_id=later.slot_id), ana)
    assert moved.start == later.start
    other_doctor = Actor(str(uuid.uuid4()), Role.provider)
    with pytest.raises(HiddenRecordError):
        world.uc.visits.check_in(visit.id, other_doctor)
    cancelled = world.uc.bookings.cancel(visit.id, "travelling", ana)
    assert cancelled.status == AppointmentStatus.cancelled.value


def test_a_move_needs_the_consent_a_booking_needs(world: Clinic) -> None:
    """A move is a booking of another time: a patient who withdrew consent since booking
    keeps the visit they have, but cannot move it (nor take an earlier time offered)."""
    ana = world.patient("ana@example.org")
    visit = world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id), ana).result
    world.uc.consents.revoke(uuid.UUID(ana.subject), Purpose.treatment, ana)
    with pytest.raises(ConsentRequiredError):
        world.uc.bookings.reschedule(visit.id, Reschedule(slot_id=world.offer(72).slot_id), ana)
    kept = world.uc.visits.appointment(visit.id)
    assert kept.start == visit.start and kept.status is AppointmentStatus.booked


def test_the_provider_checks_in_and_completes_their_own_visit(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    visit = world.uc.bookings.book(BookingCreate(slot_id=world.offer(1).slot_id), ana).result
    doctor = Actor(str(world.provider), Role.provider)
    assert world.uc.visits.check_in(visit.id, doctor).status == "checked-in"
    assert world.uc.visits.complete(visit.id, doctor).status == "fulfilled"


def test_sign_in_refuses_a_wrong_or_used_code_and_counts_why(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    codes = world.uc.sign_in.codes
    assert isinstance(codes, FakeCodes)
    code = codes.issue(uuid.UUID(ana.subject))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    anonymous = Actor("anonymous")
    with pytest.raises(InvalidCodeError):
        world.uc.sign_in.verify(CodeVerification(email="ana@example.org", code=wrong),
                                anonymous)
    token = world.uc.sign_in.verify(CodeVerification(email="ana@example.org", code=code),
                                    anonymous)
    assert str(token.patient_id) == ana.subject
    with pytest.raises(InvalidCodeError):  # used
        world.uc.sign_in.verify(CodeVerification(email="ana@example.org", code=code),
                                anonymous)
    world.uc.patients.request_code(CodeRequest(email="nobody@example.org"), anonymous)
    metrics: Any = world.uc.sign_in.metrics
    assert (metrics.counts["sign-in:wrong"], metrics.counts["sign-in:expired"]) == (1, 1)


def test_profiles_and_consents_are_reached_by_their_patient_and_staff_only(
        world: Clinic) -> None:
    ana, bo = world.patient("ana@example.org"), world.patient("bo@example.org")
    patient_id = uuid.UUID(ana.subject)
    changed = world.uc.patients.change_contact(
        patient_id, ContactUpdate(email="ana.new@example.org"), ana)
    assert changed.email == "ana.new@example.org" and not changed.email_verified
    for stranger in (bo, Actor(str(world.provider), Role.provider)):  # no visit together
        with pytest.raises(HiddenRecordError):
            world.uc.patients.profile(patient_id, stranger)
        with pytest.raises(HiddenRecordError):
            world.uc.consents.receipts(patient_id, stranger)
    receipts = world.uc.consents.receipts(patient_id, Actor("desk", Role.front_desk))
    assert [r.receipt["purpose"] for r in receipts] == ["treatment"]
    assert world.uc.consents.verify(receipts[0]).valid
    forged = Receipt(receipt={**receipts[0].receipt, "purpose": "telehealth"},
                     key_id=receipts[0].key_id, signature=receipts[0].signature)
    assert not world.uc.consents.verify(forged).valid


def test_only_the_visits_participants_get_join_links_that_open_the_visit(
        world: Clinic) -> None:
    ana = world.patient("ana@example.org", Purpose.treatment, Purpose.telehealth)
    slot = world.offer(0.1, service=world.video, notice=timedelta(minutes=1))
    visit = world.uc.bookings.book(BookingCreate(slot_id=slot.slot_id), ana).result
    with pytest.raises(HiddenRecordError):
        world.uc.telehealth.join_link(visit.id, Actor("desk", Role.front_desk))
    link = world.uc.telehealth.join_link(visit.id, ana)
    admitted = world.uc.telehealth.join(link.url)
    assert admitted.patient_id == visit.patient_id and admitted.session.role.value == "patient"
    with pytest.raises(InvalidJoinLinkError):
        world.uc.telehealth.join(link.url.replace(str(visit.id), str(uuid.uuid4())))


def test_erasure_ends_sessions_cancels_visits_and_refuses_the_patient(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    patient_id = uuid.UUID(ana.subject)
    visit = world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id), ana).result
    records = world.uc.erasing.records
    assert isinstance(records, FakeRecords)
    records.upcoming[patient_id] = [visit.id]
    done = world.uc.erasing.erase(patient_id, ErasureRequest(basis=ErasureBasis.request),
                                  ADMIN)
    assert (done.recorded, done.sessions_ended, done.visits_cancelled) == (True, 1, 1)
    sessions = world.uc.sign_in.sessions
    assert isinstance(sessions, FakeSessions) and not sessions.live
    with pytest.raises(PatientErasedError):
        world.uc.patients.profile(patient_id, ADMIN)
    again = world.uc.erasing.erase(patient_id, ErasureRequest(basis=ErasureBasis.request),
                                   ADMIN)
    assert not again.recorded  # repeatable: completes, records nothing twice


def test_retention_lists_on_a_dry_run_and_erases_on_a_real_one(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    records = world.uc.retention.records
    assert isinstance(records, FakeRecords)
    records.candidates = [uuid.UUID(ana.subject)]
    now = datetime.now(UTC)
    preview = world.uc.retention.run(SYSTEM_ACTOR, now, dry_run=True)
    assert preview.candidates == records.candidates and preview.erased == []
    run = world.uc.retention.run(SYSTEM_ACTOR, now, dry_run=False)
    assert [e.patient_id for e in run.erased] == records.candidates and run.failed == []
    assert run.cutoff == now - timedelta(days=10 * 365.2425)


def test_a_reminder_is_recorded_once_for_a_visit_still_on(world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    visit = world.uc.bookings.book(BookingCreate(slot_id=world.offer(30).slot_id), ana).result
    due = world.uc.reminders.record_due
    assert due(visit.id, timedelta(hours=24), visit.start)
    assert not due(visit.id, timedelta(hours=24), visit.start)
    assert not due(visit.id, timedelta(hours=2), visit.start + timedelta(hours=1))


def test_a_hold_proof_without_a_hold_id_books_a_free_slot(world: Clinic) -> None:
    slot = world.offer(48)
    assert world.uc.holding.bookable(slot.slot_id, HoldProof()) == slot


def test_only_the_patient_changes_their_email_address(world: Clinic) -> None:
    """Staff who could set an address of their own could then sign in as the patient."""
    ana = world.patient("ana@example.org")
    patient_id, desk = uuid.UUID(ana.subject), Actor("desk", Role.front_desk)
    with pytest.raises(ForbiddenError):
        world.uc.patients.change_contact(
            patient_id, ContactUpdate(email="desk.owned@example.org"), desk)
    phoned = world.uc.patients.change_contact(
        patient_id, ContactUpdate(email="ana@example.org", phone="+1 617 555 0100"), desk)
    assert phoned.phone == "+1 617 555 0100" and phoned.email == "ana@example.org"
