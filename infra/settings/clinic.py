"""The clinic's rules an operator may tune: holds, cancellations, sessions, reminders,
telehealth, retention; and how the log followers share the machine."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.agendas import NoShowRule

_UNITS = {"d": 86400, "h": 3600, "m": 60}


class ClinicSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    # Patients with no activity (registration, email verification, contact change, consent,
    # booking, cancellation, the end of a visit) for this long are erased
    # by `clinic retention run` (crypto-shredding). Set it to the longest medical-records
    # rule that applies to the clinic (docs/privacy.md).
    retention_years: float = Field(default=10, gt=0, le=100)
    # A registration whose address is never verified is erased by the same job this many
    # days after it was made (squatted addresses, abandoned sign-ups).
    unverified_registration_days: float = Field(default=7, gt=0, le=365)
    hold_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    max_holds_per_client: int = Field(default=3, ge=1, le=50)
    cancellation_cutoff_hours: float = Field(default=24, ge=0, le=24 * 14)
    # Upcoming visits one patient may hold at once (the front desk may book beyond it).
    max_upcoming_visits: int = Field(default=8, ge=1, le=500)
    # A patient's session ends after this long without a request, and at the absolute
    # limit after sign-in whatever happens.
    patient_idle_minutes: int = Field(default=30, ge=1, le=720)
    patient_session_hours: float = Field(default=12, gt=0, le=24)
    # The no-show rule (docs/attendance.md): after this many no-shows within the window, a
    # patient may hold only `no_show_upcoming` upcoming visits (the front desk may book
    # beyond it). 0 switches the rule off.
    no_show_limit: int = Field(default=3, ge=0, le=100)
    no_show_window_days: int = Field(default=180, ge=1, le=3650)
    no_show_upcoming: int = Field(default=1, ge=0, le=50)  # 0: no lower limit
    # ... and must confirm each visit booked a day or more ahead (a link in the day-ahead
    # reminder); unconfirmed, it is released this many hours before its start. A clinic may
    # set its own rule (PUT /clinics/{id}/no-show-policy).
    no_show_confirm: bool = True
    no_show_release_hours: int = Field(default=6, ge=1, le=23)

    def no_show_rule(self) -> NoShowRule:
        return NoShowRule(self.no_show_limit, timedelta(days=self.no_show_window_days),
                          self.no_show_upcoming, self.no_show_confirm,
                          timedelta(hours=self.no_show_release_hours))
    # A waitlist offer of freed time holds the slot for the patient this long; then it goes
    # to the next patient in line (docs/waitlist.md).
    waitlist_offer_minutes: float = Field(default=15, ge=1, le=24 * 60)
    # A video visit opens this long before its start.
    telehealth_join_early_minutes: int = Field(default=15, ge=0, le=24 * 60)
    # Reminders fall due this long before each booked visit: comma-separated, e.g. "24h,2h,30m".
    reminder_offsets: str = "24h,2h"
    # The log followers in `clinic serve` / `clinic project` (projectors, relay, reminders)
    # may run this many nice steps below the API (decision 0025: off by default, since an
    # overloaded machine then starves them and projection lag grows without bound).
    follower_nice: int = Field(default=0, ge=0, le=19)
    # After the log grows, the read-model workers and the relay wait this long before
    # reading, so the events of that moment become one batch (one read, one transaction,
    # one Kafka flush) instead of one each. Projection lag grows by as much; decision 0031.
    follower_gather_ms: float = Field(default=50, ge=0, le=1000)

    @field_validator("reminder_offsets")
    @classmethod
    def _check_offsets(cls, value: str) -> str:
        parse_offsets(value)
        return value

    def reminder_offset_list(self) -> tuple[timedelta, ...]:
        return parse_offsets(self.reminder_offsets)


def parse_offsets(text: str) -> tuple[timedelta, ...]:
    """ "24h,2h,30m" -> durations, longest first; ValueError on anything else."""
    offsets: list[timedelta] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if len(part) < 2 or part[-1] not in _UNITS or not part[:-1].isdigit():
            raise ValueError(f"reminder offset '{part}' is not like 24h, 2h or 30m")
        offsets.append(timedelta(seconds=int(part[:-1]) * _UNITS[part[-1]]))
    if not offsets or any(o <= timedelta(0) for o in offsets):
        raise ValueError("give at least one reminder offset, each above zero")
    return tuple(sorted(set(offsets), reverse=True))
