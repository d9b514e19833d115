"""The analytics read model over a scripted month (tests/integration/analytics_month.py):
three clinics whose clocks change on three different days; every figure in every table
computed by hand from the script, by clinic-local date and hour."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from eventsourcing.domain import CanCreateTimestamp

from domain.modality import Modality
from infra.postgres.analytics import AnalyticsReadModel
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.driver import drive
from tests.integration.analytics_month import Clock, Month, play_month, utc
from tests.integration.analytics_script import analytics_model, dump, rows


@pytest.fixture
def model(container: Container) -> Iterator[AnalyticsReadModel]:
    built = analytics_model(container)
    yield built
    built.datastore.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Every event is recorded at the time on this clock."""
    at = Clock(utc(2027, 3, 8, 12))
    monkeypatch.setattr(CanCreateTimestamp, "create_timestamp", staticmethod(at))
    return at


@pytest.fixture
def month(container: Container, clock: Clock) -> Month:
    return play_month(drive(container), clock)


H = 60  # minutes in an hour, D = minutes in a day: lead times below are D * days + H * hours
D = 24 * H


def test_a_scripted_month_in_three_zones_gives_the_hand_computed_figures(
        container: Container, model: AnalyticsReadModel, month: Month) -> None:
    CatchUpRunner(container.app, model).catch_up()
    v, p, c = month.visits, month.providers, month.clinics
    checkup, consult = month.checkup, month.consult

    # Local date and start: the UTC start in the zone's offset that day (EST -5 / EDT -4
    # from 14 March 07:00 UTC; GMT +0 / BST +1 from 28 March 01:00 UTC; AEDT +11 / AEST +10
    # from 3 April 16:00 UTC). Lead time: from the booking to the (last) start.
    facts = {r[0]: r[1:] for r in rows(container, """
        SELECT appointment_id, local_date, local_start::time::text, status, duration_minutes,
               lead_time_minutes, reschedule_count, late_cancellation, booking_channel
        FROM "{a}".v1_appointment_facts""")}
    assert facts == {
        # 04:30 UTC 14th - 5 h = 23:30 on the 13th; booked 8th 12:00: 5 d 16.5 h ahead.
        v["b1"]: (date(2027, 3, 13), "23:30:00", "noshow", 30, 5 * D + 16 * H + 30, 0,
                  False, "system"),
        # 03:30 UTC 15th - 4 h (EDT by now) = 23:30 on the 14th; 6 d 15.5 h ahead.
        v["b2"]: (date(2027, 3, 14), "23:30:00", "fulfilled", 30, 6 * D + 15 * H + 30, 0,
                  False, "system"),
        # 13:00 UTC 20th - 4 h; booked 8th 12:00 (12 d 1 h), cancelled 10 days ahead.
        v["b3"]: (date(2027, 3, 20), "09:00:00", "cancelled", 30, 12 * D + 1 * H, 0,
                  False, "system"),
        # b3's time, booked 11th 12:00: 9 d 1 h ahead.
        v["b4"]: (date(2027, 3, 20), "09:00:00", "booked", 30, 9 * D + 1 * H, 0,
                  False, "system"),
        # Consult moved from 12th 10:00 EST to 16th 14:00 UTC - 4 h; lead to the new start.
        v["b5"]: (date(2027, 3, 16), "10:00:00", "booked", 60, 8 * D + 2 * H, 1,
                  False, "system"),
        # 23:30 UTC 28th + 1 h (BST) = 00:30 on the 29th; booked 20th 09:00 (8 d 14.5 h),
        # cancelled 28th 12:00, 11.5 h before: late.
        v["l1"]: (date(2027, 3, 29), "00:30:00", "cancelled", 30, 8 * D + 14 * H + 30, 0,
                  True, "system"),
        # l1's time, booked 28th 13:00: 10.5 h ahead.
        v["l2"]: (date(2027, 3, 29), "00:30:00", "fulfilled", 30, 10 * H + 30, 0,
                  False, "system"),
        # 27th 09:00 GMT, moved twice, to 1 April 08:00 UTC + 1 h; booked 15th 09:00.
        v["l3"]: (date(2027, 4, 1), "09:00:00", "noshow", 30, 16 * D + 23 * H, 2,
                  False, "system"),
        # The second 02:30 of 4 April (AEST, 16:30 UTC 3rd); booked 1st 00:00.
        v["s1"]: (date(2027, 4, 4), "02:30:00", "checked-in", 30, 2 * D + 16 * H + 30, 0,
                  False, "system"),
        # 23:00 UTC 4th + 10 h = 09:00 on the 5th; booked 1st 00:00.
        v["s2"]: (date(2027, 4, 5), "09:00:00", "fulfilled", 30, 3 * D + 23 * H, 0,
                  False, "system"),
        # 21:00 UTC 1st + 11 h = 08:00 on the 2nd; booked 25 March, cancelled 45 h before.
        v["s3"]: (date(2027, 4, 2), "08:00:00", "cancelled", 30, 7 * D + 21 * H, 0,
                  False, "system"),
        # Consult at 13:00 UTC 6th + 10 h = 23:00; booked 2nd 00:00.
        v["s4"]: (date(2027, 4, 6), "23:00:00", "noshow", 60, 4 * D + 13 * H, 0,
                  False, "system"),
        # The first 02:30 of 4 April (AEDT, 15:30 UTC 3rd); booked 1st 00:00.
        v["s5"]: (date(2027, 4, 4), "02:30:00", "booked", 30, 2 * D + 15 * H + 30, 0,
                  False, "system"),
    }

    # Every status change at the time the script recorded it (its clock), in UTC.
    stamps = {r[0]: r[1:] for r in rows(container, """
        SELECT appointment_id, booked_at, rescheduled_at, checked_in_at, completed_at,
               no_show_at, cancelled_at, start_at FROM "{a}".v1_appointment_facts""")}
    assert stamps == {
        v["b1"]: (utc(2027, 3, 8, 12), None, None, None, utc(2027, 3, 14, 5), None,
                  utc(2027, 3, 14, 4, 30)),
        v["b2"]: (utc(2027, 3, 8, 12), None, utc(2027, 3, 15, 3, 30), utc(2027, 3, 15, 4),
                  None, None, utc(2027, 3, 15, 3, 30)),
        v["b3"]: (utc(2027, 3, 8, 12), None, None, None, None, utc(2027, 3, 10, 12),
                  utc(2027, 3, 20, 13)),
        v["b4"]: (utc(2027, 3, 11, 12), None, None, None, None, None, utc(2027, 3, 20, 13)),
        v["b5"]: (utc(2027, 3, 8, 12), utc(2027, 3, 9, 12), None, None, None, None,
                  utc(2027, 3, 16, 14)),
        v["l1"]: (utc(2027, 3, 20, 9), None, None, None, None, utc(2027, 3, 28, 12),
                  utc(2027, 3, 28, 23, 30)),
        v["l2"]: (utc(2027, 3, 28, 13), None, utc(2027, 3, 28, 23, 30), utc(2027, 3, 29),
                  None, None, utc(2027, 3, 28, 23, 30)),
        v["l3"]: (utc(2027, 3, 15, 9), utc(2027, 3, 17, 9), None, None, utc(2027, 4, 1, 9),
                  None, utc(2027, 4, 1, 8)),
        v["s1"]: (utc(2027, 4, 1), None, utc(2027, 4, 3, 16, 35), None, None, None,
                  utc(2027, 4, 3, 16, 30)),
        v["s2"]: (utc(2027, 4, 1), None, utc(2027, 4, 4, 23), utc(2027, 4, 4, 23, 30), None,
                  None, utc(2027, 4, 4, 23)),
        v["s3"]: (utc(2027, 3, 25), None, None, None, None, utc(2027, 3, 31),
                  utc(2027, 4, 1, 21)),
        v["s4"]: (utc(2027, 4, 2), None, None, None, utc(2027, 4, 6, 14), None,
                  utc(2027, 4, 6, 13)),
        v["s5"]: (utc(2027, 4, 1), None, None, None, None, None, utc(2027, 4, 3, 15, 30)),
    }

    # Per provider, service and local date: appointments and booked minutes count every
    # visit not cancelled; attended minutes the fulfilled ones. A day a visit moved away
    # from has no row (b5's 12 March, l3's 27 and 30 March).
    utilization = rows(container, """
        SELECT provider_id, service_id, local_date, appointments, booked_minutes,
               attended_minutes, cancellations, late_cancellations, no_shows
        FROM "{a}".v1_daily_utilization""")
    assert sorted(utilization) == sorted([
        (p["boston"], checkup, date(2027, 3, 13), 1, 30, 0, 0, 0, 1),  # b1
        (p["boston"], checkup, date(2027, 3, 14), 1, 30, 30, 0, 0, 0),  # b2
        (p["boston"], checkup, date(2027, 3, 20), 1, 30, 0, 1, 0, 0),  # b3 cancelled, b4
        (p["boston"], consult, date(2027, 3, 16), 1, 60, 0, 0, 0, 0),  # b5
        (p["london"], checkup, date(2027, 3, 29), 1, 30, 30, 1, 1, 0),  # l1 late, l2 done
        (p["london"], checkup, date(2027, 4, 1), 1, 30, 0, 0, 0, 1),  # l3
        (p["sydney"], checkup, date(2027, 4, 2), 0, 0, 0, 1, 0, 0),  # s3
        (p["sydney"], checkup, date(2027, 4, 4), 2, 60, 0, 0, 0, 0),  # s1 (in), s5
        (p["sydney"], checkup, date(2027, 4, 5), 1, 30, 30, 0, 0, 0),  # s2
        (p["sydney"], consult, date(2027, 4, 6), 1, 60, 0, 0, 0, 1),  # s4
    ])

    # Open minutes of all-day hours: 1440, 1380 the day the clocks spring forward, 1500 the
    # day they fall back; utilization = booked minutes / open minutes, to four places.
    capacity = rows(container, """
        SELECT provider_id, local_date, open_minutes, booked_minutes, attended_minutes,
               utilization::text FROM "{a}".v1_daily_capacity
        WHERE (provider_id, local_date) IN ((%s, '2027-03-13'), (%s, '2027-03-14'),
            (%s, '2027-03-16'), (%s, '2027-03-28'), (%s, '2027-03-29'), (%s, '2027-04-04'),
            (%s, '2027-04-05'), (%s, '2027-04-06'))""",
                    *([p["boston"]] * 3), *([p["london"]] * 2), *([p["sydney"]] * 3))
    assert sorted(capacity) == sorted([
        (p["boston"], date(2027, 3, 13), 1440, 30, 0, "0.0208"),  # 30/1440
        (p["boston"], date(2027, 3, 14), 1380, 30, 30, "0.0217"),  # 30/1380
        (p["boston"], date(2027, 3, 16), 1440, 60, 0, "0.0417"),  # 60/1440
        (p["london"], date(2027, 3, 28), 1380, 0, 0, "0.0000"),  # nothing that day
        (p["london"], date(2027, 3, 29), 1440, 30, 30, "0.0208"),
        (p["sydney"], date(2027, 4, 4), 1500, 60, 0, "0.0400"),  # 60/1500
        (p["sydney"], date(2027, 4, 5), 1440, 30, 30, "0.0208"),
        (p["sydney"], date(2027, 4, 6), 1440, 60, 0, "0.0417"),
    ])

    # Per clinic, local date and hour: a booking (or a move in) counts as booked; a
    # cancellation or move away frees its hour; a booking over freed time is re-booked.
    # Slots offered: all-day hours cut two 30-minute checkups and one 60-minute consult an
    # hour (3); Sydney's 02:00-02:59 on 4 April is lived twice (6).
    supply = rows(container, """
        SELECT clinic_id, local_date, hour, booked, freed_by_cancellation,
               freed_by_reschedule, rebooked, waitlist_booked, slots_offered
        FROM "{a}".v1_slot_supply""")
    assert sorted(supply) == sorted([
        (c["boston"], date(2027, 3, 12), 10, 1, 0, 1, 0, 0, 3),  # b5, moved away
        (c["boston"], date(2027, 3, 13), 23, 1, 0, 0, 0, 0, 3),  # b1
        (c["boston"], date(2027, 3, 14), 23, 1, 0, 0, 0, 0, 3),  # b2
        (c["boston"], date(2027, 3, 16), 10, 1, 0, 0, 0, 0, 3),  # b5, moved in
        (c["boston"], date(2027, 3, 20), 9, 2, 1, 0, 1, 0, 3),  # b3 cancelled, b4 over it
        (c["london"], date(2027, 3, 27), 9, 1, 0, 1, 0, 0, 3),  # l3, moved away
        (c["london"], date(2027, 3, 29), 0, 2, 1, 0, 1, 0, 3),  # l1 cancelled, l2 over it
        (c["london"], date(2027, 3, 30), 9, 1, 0, 1, 0, 0, 3),  # l3, in and away again
        (c["london"], date(2027, 4, 1), 9, 1, 0, 0, 0, 0, 3),  # l3, moved in
        (c["sydney"], date(2027, 4, 2), 8, 1, 1, 0, 0, 0, 3),  # s3, cancelled
        (c["sydney"], date(2027, 4, 4), 2, 2, 0, 0, 0, 0, 6),  # s5 and s1: both 02:30s
        (c["sydney"], date(2027, 4, 5), 9, 1, 0, 0, 0, 0, 3),  # s2
        (c["sydney"], date(2027, 4, 6), 23, 1, 0, 0, 0, 0, 3),  # s4
    ])


def test_slots_offered_per_hour_follow_the_hours_the_clocks_and_the_directory(
        container: Container, model: AnalyticsReadModel, month: Month, clock: Clock) -> None:
    """Three slots an hour (two checkups, one consult): none in the hour each spring change
    skips, twice three in the hour the autumn change repeats; a provider who stops offering
    the consult, or a longer consult, changes the offer from the clinic-local day of that
    change, and the days before keep what they offered."""
    CatchUpRunner(container.app, model).catch_up()
    c = month.clinics
    per_day = """SELECT clinic_id, local_date, sum(slots_offered)::int, count(*)::int
        FROM "{a}".v1_slots_offered WHERE local_date BETWEEN '2027-03-13' AND '2027-04-09'
        GROUP BY 1, 2"""
    days = {(r[0], r[1]): r[2:] for r in rows(container, per_day)}
    assert days[(c["boston"], date(2027, 3, 13))] == (72, 24)
    assert days[(c["boston"], date(2027, 3, 14))] == (69, 23)  # no 02:00
    assert days[(c["london"], date(2027, 3, 28))] == (69, 23)  # no 01:00
    assert days[(c["sydney"], date(2027, 4, 4))] == (75, 24)  # 02:00 twice
    assert days[(c["sydney"], date(2027, 4, 5))] == (72, 24)
    assert {n for key, n in days.items() if key[1] not in (date(2027, 3, 14),
            date(2027, 3, 28), date(2027, 4, 4))} == {(72, 24)}
    assert rows(container, """SELECT hour, slots_offered FROM "{a}".v1_slots_offered
        WHERE clinic_id = %s AND local_date = '2027-04-04' AND hour BETWEEN 1 AND 3
        ORDER BY hour""", c["sydney"]) == [(1, 3), (2, 6), (3, 3)]

    # London's provider stops offering the consult at 23:30 UTC on 6 April: 00:30 BST on
    # the 7th, so from the 7th on London offers two checkups an hour.
    clock.now = utc(2027, 4, 6, 23, 30)
    drive(container).revise_provider(month.providers["london"], "Dr. London", [c["london"]],
                                     [month.checkup])
    CatchUpRunner(container.app, model).catch_up()
    days = {(r[0], r[1]): r[2:] for r in rows(container, per_day)}
    assert days[(c["london"], date(2027, 4, 6))] == (72, 24)
    assert days[(c["london"], date(2027, 4, 7))] == (48, 24)
    assert days[(c["london"], date(2027, 4, 9))] == (48, 24)
    assert days[(c["boston"], date(2027, 4, 7))] == (72, 24)
    last = rows(container, """SELECT max(local_date) FROM "{a}".v1_slots_offered
        WHERE clinic_id = %s""", c["london"])[0][0]
    assert rows(container, """SELECT sum(slots_offered)::int FROM "{a}".v1_slots_offered
        WHERE clinic_id = %s AND local_date = %s""", c["london"], last) == [(48,)]

    # The consult becomes 90 minutes at 23:30 UTC on 7 April: 19:30 EDT on the 7th in
    # Boston, 09:30 AEST on the 8th in Sydney. From those days a day offers 48 checkups and
    # 16 consults (a start every 90 minutes); London's provider no longer offers it.
    clock.now = utc(2027, 4, 7, 23, 30)
    drive(container).revise_service(month.consult, "Consult", 90, Modality.in_person)
    CatchUpRunner(container.app, model).catch_up()
    days = {(r[0], r[1]): r[2] for r in rows(container, per_day)}
    assert [days[(c["boston"], date(2027, 4, d))] for d in (6, 7, 8)] == [72, 64, 64]
    assert [days[(c["sydney"], date(2027, 4, d))] for d in (6, 7, 8)] == [72, 72, 64]
    assert [days[(c["london"], date(2027, 4, d))] for d in (6, 7, 8)] == [72, 48, 48]


def test_the_month_rebuilt_from_zero_equals_the_month_built_in_small_batches(
        container: Container, model: AnalyticsReadModel, month: Month) -> None:
    small = CatchUpRunner(container.app, model, batch_size=7)
    while small.run_once():
        pass
    incremental = dump(container)
    assert len(incremental["appointment_facts"]) == len(month.visits)
    model.reset()
    CatchUpRunner(container.app, model).catch_up()
    assert dump(container) == incremental
