"""The notification log is the outbox: a follower that reads past an id must never find an
event with a lower id committed later. Inserts take the table lock inside one server-side
call (infra/eventstore.SingleTripRecorder); concurrent writers must still commit in id order."""

from __future__ import annotations

import threading

import pytest
from eventsourcing.persistence import IntegrityError

from domain.clinics import Address
from domain.modality import Modality
from infra.eventstore.recorder import SingleTripRecorder
from infra.wiring.container import Container
from tests.driver import drive

WRITERS, EACH = 6, 80


def test_the_application_records_through_the_single_trip_function(
    container: Container,
) -> None:
    assert isinstance(container.app.recorder, SingleTripRecorder)
    assert container.app.recorder.datastore.enable_db_functions


def test_concurrent_writers_never_let_a_tailing_follower_skip_an_event(
    container: Container,
) -> None:
    app, recorder = drive(container), container.app.recorder
    seen: list[int] = []
    writing = threading.Event()
    writing.set()

    def follow() -> None:
        after = recorder.max_notification_id() or 0
        while writing.is_set() or after < (recorder.max_notification_id() or 0):
            batch = recorder.select_notifications(start=after, limit=50,
                                                  inclusive_of_start=False)
            seen.extend(n.id for n in batch)
            after = batch[-1].id if batch else after

    def write(n: int) -> None:
        for i in range(EACH):
            app.register_clinic(f"Clinic {n}-{i}", Address("1 Main St", "Boston", "MA",
                                                           "02110"),
                                "America/New_York", [Modality.in_person])

    start = recorder.max_notification_id() or 0
    follower = threading.Thread(target=follow)
    follower.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    writing.clear()
    follower.join(30)

    recorded = [n.id for n in recorder.select_notifications(start=start, limit=10_000,
                                                            inclusive_of_start=False)]
    assert len(recorded) == WRITERS * EACH
    assert seen == recorded, "the follower skipped events committed after a higher id"


def test_a_version_conflict_is_still_an_integrity_error(container: Container) -> None:
    app = drive(container)
    clinic_id = app.register_clinic("Harbor", Address("1 Main St", "Boston", "MA", "02110"),
                                    "America/New_York", [Modality.in_person])
    first, second = app.clinic(clinic_id), app.clinic(clinic_id)
    address = Address("2 Main St", "Boston", "MA", "02110")
    first.revise("Harbor East", address, [Modality.in_person])
    second.revise("Harbor West", address, [Modality.in_person])
    app.save(first)
    with pytest.raises(IntegrityError):
        app.save(second)
    assert app.clinic(clinic_id).name == "Harbor East"
