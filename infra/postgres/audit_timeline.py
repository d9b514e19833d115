"""PostgreSQL side of the audit timeline (projections/timeline.py): one row per event, and
one per record each event is about, so that a patient's, provider's, clinic's or visit's
whole history is one index range (docs/compliance.md). No PHI: ids, times, codes and the
one-line summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow

from infra.postgres.read_model import TrackedReadModel
from projections.timeline import TimelineEntry, entry_of

DDL = """
CREATE TABLE IF NOT EXISTS {s}.timeline_events (
    position bigint PRIMARY KEY, record_id uuid NOT NULL, version int NOT NULL,
    event text NOT NULL, recorded_at timestamptz NOT NULL, actor text NOT NULL,
    role text NOT NULL, purpose text NOT NULL, reason text NOT NULL, request_id text NOT NULL,
    summary text NOT NULL, patient_id uuid);
CREATE INDEX IF NOT EXISTS timeline_events_by_actor
    ON {s}.timeline_events (actor, recorded_at, position);
CREATE TABLE IF NOT EXISTS {s}.timeline_subjects (
    subject_id uuid NOT NULL, recorded_at timestamptz NOT NULL, position bigint NOT NULL,
    PRIMARY KEY (subject_id, recorded_at, position));
CREATE TABLE IF NOT EXISTS {s}.timeline_links (
    record_id uuid NOT NULL, subject_id uuid NOT NULL, PRIMARY KEY (record_id, subject_id));
CREATE TABLE IF NOT EXISTS {s}.timeline_patients (
    record_id uuid PRIMARY KEY, patient_id uuid NOT NULL)
"""
_EVENT_COLUMNS = ("position", "record_id", "version", "event", "recorded_at", "actor", "role",
                  "purpose", "reason", "request_id", "summary", "patient_id")


class AuditTimelineReadModel(TrackedReadModel):
    name = "audit_timeline"
    DDL = DDL
    TABLES = ("timeline_events", "timeline_subjects", "timeline_links", "timeline_patients")
    wants_positions: ClassVar[bool] = True  # (notification id, event) pairs

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        entries = [entry_of(position, event) for position, event in events]
        if not entries:
            return
        records = {e.record_id for e in entries}
        links, patients = self._links(curs, records), self._patients(curs, records)
        new_links: list[tuple[UUID, UUID]] = []
        subjects: list[tuple[UUID, datetime, int]] = []
        for n, entry in enumerate(entries):
            known = links.setdefault(entry.record_id, set())
            about = {entry.record_id} | entry.named | known
            subjects.extend((s, entry.recorded_at, entry.position) for s in about)
            new_links.extend((entry.record_id, s) for s in entry.links - known)
            known.update(entry.links)
            if entry.patient_id is None:  # a later event of a record about a patient
                entries[n] = replace(entry, patient_id=patients.get(entry.record_id))
            else:
                patients.setdefault(entry.record_id, entry.patient_id)
        s = self.schema
        curs.executemany(sql.SQL(
            f"INSERT INTO {s}.timeline_events ({', '.join(_EVENT_COLUMNS)}) VALUES "
            f"({', '.join(['%s'] * len(_EVENT_COLUMNS))}) ON CONFLICT DO NOTHING"),
            [_row(e) for e in entries])
        curs.executemany(sql.SQL(
            f"INSERT INTO {s}.timeline_subjects VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"),
            subjects)
        if new_links:
            curs.executemany(sql.SQL(
                f"INSERT INTO {s}.timeline_links VALUES (%s, %s) ON CONFLICT DO NOTHING"),
                new_links)
        curs.executemany(sql.SQL(
            f"INSERT INTO {s}.timeline_patients VALUES (%s, %s) ON CONFLICT DO NOTHING"),
            [(e.record_id, e.patient_id) for e in entries
             if e.patient_id is not None and e.version == 1])

    def _links(self, curs: Cursor[DictRow], records: set[UUID]) -> dict[UUID, set[UUID]]:
        curs.execute(sql.SQL(
            f"SELECT record_id, subject_id FROM {self.schema}.timeline_links "
            "WHERE record_id = ANY(%s)"), (list(records),))
        links: dict[UUID, set[UUID]] = {}
        for row in curs.fetchall():
            links.setdefault(row["record_id"], set()).add(row["subject_id"])
        return links


    def _patients(self, curs: Cursor[DictRow], records: set[UUID]) -> dict[UUID, UUID]:
        curs.execute(sql.SQL(
            f"SELECT record_id, patient_id FROM {self.schema}.timeline_patients "
            "WHERE record_id = ANY(%s)"), (list(records),))
        return {row["record_id"]: row["patient_id"] for row in curs.fetchall()}


def _row(entry: TimelineEntry) -> tuple[Any, ...]:
    return tuple(getattr(entry, column) for column in _EVENT_COLUMNS)
