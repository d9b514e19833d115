"""A patient's attendance history, from the appointments read model: visits booked, attended,
missed and cancelled late (docs/attendance.md). Never another patient's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field

from domain.record_access import Caller, clinics_in_reach, require_patients_list
from queries.db import ReadPool, fetch_all


class AttendanceSummary(BaseModel):
    patient_id: UUID
    booked: int = Field(description="Visits ever booked")
    upcoming: int = Field(description="Booked visits that have not started")
    attended: int = Field(description="Visits completed")
    no_shows: int = Field(description="Visits missed")
    recent_no_shows: int = Field(description="Visits missed that started within `within_days`")
    within_days: int
    cancelled: int = Field(description="Visits cancelled, late ones included")
    late_cancellations: int = Field(description="Cancelled within the cut-off before the start")
    last_no_show: datetime | None = None


async def read_attendance(pool: ReadPool, caller: Caller, patient_id: UUID,
                          within_days: int) -> AttendanceSummary:
    """The history as the caller may see it: a patient's own; a provider only their visits
    with the patient; staff only their clinics' visits."""
    provider = require_patients_list(caller, patient_id)
    clinics = clinics_in_reach(caller)
    now = datetime.now(UTC)
    rows = await fetch_all(pool, """
        SELECT count(*) AS booked,
               count(*) FILTER (WHERE status = 'booked' AND start_at > %(now)s) AS upcoming,
               count(*) FILTER (WHERE status = 'fulfilled') AS attended,
               count(*) FILTER (WHERE status = 'noshow') AS no_shows,
               count(*) FILTER (WHERE status = 'noshow' AND start_at >= %(since)s)
                   AS recent_no_shows,
               count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
               count(*) FILTER (WHERE status = 'cancelled' AND late_cancellation)
                   AS late_cancellations,
               max(start_at) FILTER (WHERE status = 'noshow') AS last_no_show
        FROM appointments
        WHERE patient_id = %(patient)s
          AND (%(provider)s::uuid IS NULL OR provider_id = %(provider)s::uuid)
          AND (%(clinics)s::uuid[] IS NULL OR clinic_id = ANY(%(clinics)s::uuid[]))""", {
        "patient": patient_id, "provider": provider, "now": now,
        "since": now - timedelta(days=within_days),
        "clinics": None if clinics is None else sorted(clinics)})
    return AttendanceSummary(patient_id=patient_id, within_days=within_days, **rows[0])
