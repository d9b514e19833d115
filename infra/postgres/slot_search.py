"""PostgreSQL side of the slot-search read model (tables documented in docs/read-models.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from domain.availability import MAX_BUFFER_MINUTES, AvailabilityRules
from infra.postgres.read_model import TrackedReadModel
from projections.slot_search import (
    OfferedService,
    ScheduleContext,
    SlotRow,
    apply_events,
    regenerate,
)

TABLES = ("booked_intervals", "open_slots", "availability_schedules", "directory_providers",
          "directory_services",
          "directory_clinics")

DDL = (Path(__file__).parent / "slot_search.sql").read_text(encoding="utf-8")

class SlotSearchReadModel(TrackedReadModel):
    name = "slot_search"
    DDL = DDL
    TABLES = TABLES

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        apply_events(_Writer(curs, self.schema), events, now)

    def tick(self) -> None:
        """Roll the horizon: regenerate schedules not yet generated through their last day."""
        now = self.clock()
        with self.datastore.transaction(commit=True) as curs:
            writer = _Writer(curs, self.schema)
            for schedule_id in writer.stale_schedules(now):
                regenerate(writer, schedule_id, now)


class _Writer:
    def __init__(self, curs: Cursor[DictRow], schema: str) -> None:
        self.curs, self.s = curs, schema

    def upsert_clinic(self, clinic_id: UUID, data: dict[str, Any], at: datetime) -> None:
        if "time_zone" in data:
            self._exec(f"""INSERT INTO {self.s}.directory_clinics VALUES (%s,%s,%s,%s,%s,%s)
                ON CONFLICT (clinic_id) DO NOTHING""",
                (clinic_id, data["name"], Jsonb(data["address"]), data["time_zone"],
                 data["modalities"], at))
        else:
            self._exec(f"""UPDATE {self.s}.directory_clinics SET name=%s, address=%s,
                modalities=%s, updated_at=%s WHERE clinic_id=%s""",
                (data["name"], Jsonb(data["address"]), data["modalities"], at, clinic_id))

    def upsert_service(self, service_id: UUID, data: dict[str, Any], at: datetime) -> None:
        self._exec(f"""INSERT INTO {self.s}.directory_services VALUES (%s,%s,%s,%s,%s)
            ON CONFLICT (service_id) DO UPDATE SET name=EXCLUDED.name,
            duration_minutes=EXCLUDED.duration_minutes, modality=EXCLUDED.modality,
            updated_at=EXCLUDED.updated_at""",
            (service_id, data["name"], data["duration_minutes"], data["modality"], at))

    def upsert_provider(self, provider_id: UUID, data: dict[str, Any], at: datetime) -> None:
        self._exec(f"""INSERT INTO {self.s}.directory_providers VALUES (%s,%s,%s,%s,%s)
            ON CONFLICT (provider_id) DO UPDATE SET display_name=EXCLUDED.display_name,
            clinic_ids=EXCLUDED.clinic_ids, service_ids=EXCLUDED.service_ids,
            updated_at=EXCLUDED.updated_at""",
            (provider_id, data["display_name"], data["clinic_ids"], data["service_ids"], at))

    def upsert_schedule(self, schedule_id: UUID, provider_id: UUID, clinic_id: UUID,
                        rules: dict[str, Any], at: datetime) -> None:
        self._exec(f"""INSERT INTO {self.s}.availability_schedules
            (schedule_id, provider_id, clinic_id, rules, updated_at) VALUES (%s,%s,%s,%s,%s)
            ON CONFLICT (schedule_id) DO UPDATE SET rules=EXCLUDED.rules,
            updated_at=EXCLUDED.updated_at""",
            (schedule_id, provider_id, clinic_id, Jsonb(rules), at))

    def change_schedule_rules(self, schedule_id: UUID, rules: dict[str, Any],
                              at: datetime) -> None:
        self._exec(f"""UPDATE {self.s}.availability_schedules SET rules=%s, updated_at=%s
            WHERE schedule_id=%s""", (Jsonb(rules), at, schedule_id))

    def schedules_of(self, *, provider_id: UUID | None = None, clinic_id: UUID | None = None,
                     service_id: UUID | None = None) -> list[UUID]:
        arg: UUID | None
        if provider_id is not None:
            where, arg = "provider_id = %s", provider_id
        elif clinic_id is not None:
            where, arg = "clinic_id = %s", clinic_id
        else:
            where = f"""provider_id IN (SELECT provider_id FROM {self.s}.directory_providers
                        WHERE %s = ANY(service_ids))"""
            arg = service_id
        self._exec(f"SELECT schedule_id FROM {self.s}.availability_schedules WHERE {where}",
                   (arg,))
        return [row["schedule_id"] for row in self.curs.fetchall()]

    def stale_schedules(self, now: datetime) -> list[UUID]:
        self._exec(f"""SELECT s.schedule_id FROM {self.s}.availability_schedules s
            JOIN {self.s}.directory_clinics c USING (clinic_id)
            WHERE s.generated_through IS NULL OR s.generated_through <
              ((%s AT TIME ZONE c.time_zone)::date + ((s.rules->>'horizon_days')::int - 1))""",
            (now,))
        return [row["schedule_id"] for row in self.curs.fetchall()]

    def schedule_context(self, schedule_id: UUID) -> ScheduleContext | None:
        self._exec(f"""SELECT s.provider_id, s.clinic_id, s.rules, c.time_zone,
                   c.modalities, p.clinic_ids, p.service_ids
            FROM {self.s}.availability_schedules s
            JOIN {self.s}.directory_clinics c USING (clinic_id)
            JOIN {self.s}.directory_providers p USING (provider_id)
            WHERE s.schedule_id = %s""", (schedule_id,))
        row = self.curs.fetchone()
        if row is None:
            return None
        services: list[OfferedService] = []
        if row["clinic_id"] in row["clinic_ids"]:
            self._exec(f"""SELECT service_id, duration_minutes, modality
                FROM {self.s}.directory_services WHERE service_id = ANY(%s)
                ORDER BY service_id""", (row["service_ids"],))
            services = [OfferedService(r["service_id"], r["duration_minutes"], r["modality"])
                        for r in self.curs.fetchall()]
        return ScheduleContext(
            schedule_id=schedule_id, provider_id=row["provider_id"],
            clinic_id=row["clinic_id"], rules=AvailabilityRules.from_dict(row["rules"]),
            time_zone=row["time_zone"], clinic_modalities=list(row["modalities"]),
            services=services,
        )

    def replace_open_slots(self, schedule_id: UUID, rows: Sequence[SlotRow],
                           generated_through: date) -> None:
        # Slots before today are gone from search; the rest are cut anew, and then every
        # booked interval of the provider takes its time away again.
        self._exec(f"DELETE FROM {self.s}.open_slots WHERE schedule_id = %s", (schedule_id,))
        with self.curs.copy(
            f"""COPY {self.s}.open_slots (slot_id, schedule_id, provider_id, clinic_id,
                service_id, modality, start_at, end_at, local_start, local_end, time_zone,
                book_by) FROM STDIN"""
        ) as copy:
            for r in rows:
                copy.write_row((r.slot_id, r.schedule_id, r.provider_id, r.clinic_id,
                                r.service_id, r.modality, r.start_at, r.end_at, r.local_start,
                                r.local_end, r.time_zone, r.book_by))
        self._exec(f"""UPDATE {self.s}.availability_schedules SET generated_through = %s
            WHERE schedule_id = %s""", (generated_through, schedule_id))
        self._exec(f"""UPDATE {self.s}.open_slots s SET status = 'booked'
            FROM {self.s}.booked_intervals b, {self.s}.availability_schedules a
            WHERE s.schedule_id = %s AND a.schedule_id = s.schedule_id
              AND b.provider_id = s.provider_id
              AND s.start_at - {_BEFORE} < b.end_at AND b.start_at < s.end_at + {_AFTER}""",
                   (schedule_id,))

    # A booked visit blocks its time and its schedule's buffers; an open slot is hidden when
    # its own buffered span meets that (as ProviderCalendar decides; decision 0037).
    def block(self, provider_id: UUID, clinic_id: UUID | None, appointment_id: UUID,
              start: datetime, end: datetime) -> None:
        self._exec(f"""WITH a AS (SELECT (SELECT rules FROM {self.s}.availability_schedules
                WHERE provider_id = %s AND clinic_id = %s) AS rules)
            INSERT INTO {self.s}.booked_intervals
                (appointment_id, provider_id, start_at, end_at, clinic_id)
            SELECT %s, %s, %s::timestamptz - {_BEFORE}, %s::timestamptz + {_AFTER}, %s FROM a
            ON CONFLICT (appointment_id) DO UPDATE SET start_at = EXCLUDED.start_at,
                end_at = EXCLUDED.end_at, clinic_id = EXCLUDED.clinic_id
            RETURNING start_at, end_at""",
                   (provider_id, clinic_id, appointment_id, provider_id, start, end, clinic_id))
        row = self.curs.fetchone()
        assert row is not None
        self._exec(f"""UPDATE {self.s}.open_slots s SET status = 'booked'
            FROM {self.s}.availability_schedules a
            WHERE a.schedule_id = s.schedule_id AND s.provider_id = %s AND s.status = 'open'
              AND {_NEAR} AND s.start_at - {_BEFORE} < %s AND s.end_at + {_AFTER} > %s""",
                   (provider_id, row["end_at"], row["start_at"], row["end_at"],
                    row["start_at"]))

    def unblock(self, appointment_id: UUID) -> tuple[UUID, UUID | None] | None:
        self._exec(f"""DELETE FROM {self.s}.booked_intervals WHERE appointment_id = %s
            RETURNING provider_id, clinic_id, start_at, end_at""", (appointment_id,))
        row = self.curs.fetchone()
        if row is None:
            return None
        self._exec(f"""UPDATE {self.s}.open_slots s SET status = 'open'
            FROM {self.s}.availability_schedules a
            WHERE a.schedule_id = s.schedule_id AND s.provider_id = %s
              AND s.status = 'booked' AND {_NEAR}
              AND s.start_at - {_BEFORE} < %s AND s.end_at + {_AFTER} > %s
              AND NOT EXISTS (SELECT 1 FROM {self.s}.booked_intervals b
                  WHERE b.provider_id = s.provider_id AND s.start_at - {_BEFORE} < b.end_at
                    AND b.start_at < s.end_at + {_AFTER})""",
                   (row["provider_id"], row["end_at"], row["start_at"], row["end_at"],
                    row["start_at"]))
        return row["provider_id"], row["clinic_id"]

    def _exec(self, query: str, params: tuple[Any, ...]) -> None:
        self.curs.execute(_sql(query), params)


_BEFORE = "coalesce((a.rules->>'buffer_before_minutes')::int, 0) * interval '1 minute'"
_AFTER = "coalesce((a.rules->>'buffer_after_minutes')::int, 0) * interval '1 minute'"
# Slots that can meet a span [lo, hi) at all, whatever their buffers: the index's range.
_NEAR = (f"s.start_at < %s::timestamptz + interval '{MAX_BUFFER_MINUTES} minutes' "
         f"AND s.end_at > %s::timestamptz - interval '{MAX_BUFFER_MINUTES} minutes'")


def _sql(text: str) -> Any:
    from psycopg import sql

    return sql.SQL(text)
