"""Clinic (FHIR Location): where care happens, in which time zone, in which modalities."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from eventsourcing.domain import Aggregate, event

from domain.agendas import NoShowRule
from domain.errors import RuleViolationError
from domain.modality import Modality
from domain.text import plain_text


class InvalidClinicError(RuleViolationError):
    code = "invalid-clinic"


@dataclass(frozen=True)
class Address:
    line: str
    city: str
    state: str
    postal_code: str
    country: str = "US"

    def __post_init__(self) -> None:
        for field, value in self.as_dict().items():
            plain_text(value, f"address {field.replace('_', ' ')}")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def valid_time_zone(name: str) -> ZoneInfo:
    """An IANA zone name ("America/Chicago"); abbreviations and offsets are refused."""
    if plain_text(name, "the time zone") not in _zones():
        raise InvalidClinicError("the time zone is not an IANA zone name such as America/Chicago")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidClinicError("the time zone is not an IANA zone name") from None


@cache
def _zones() -> frozenset[str]:
    return frozenset(z for z in available_timezones() if "/" in z)


def _checked(name: str, modalities: list[str]) -> tuple[str, list[str]]:
    if not plain_text(name, "the clinic name").strip():
        raise InvalidClinicError("a clinic needs a name")
    if not modalities:
        raise InvalidClinicError("a clinic offers in-person visits, telehealth, or both")
    return name.strip(), sorted({Modality(m).value for m in modalities})


class Clinic(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        address: dict[str, str]
        time_zone: str
        modalities: list[str]

    class Revised(Aggregate.Event):
        name: str
        address: dict[str, str]
        modalities: list[str]

    class NoShowPolicySet(Aggregate.Event):
        """The clinic's own no-show rule (docs/attendance.md); None: the deployment's."""

        no_shows: int | None
        within_days: int
        upcoming: int
        confirm: bool
        release_hours: int

    no_show_rule: NoShowRule | None = None  # None: the deployment's default rule

    @classmethod
    def register(cls, name: str, address: Address, time_zone: str,
                 modalities: list[Modality], id: UUID | None = None) -> Clinic:
        """`id` is given when the caller derives it (idempotent creation, demo data)."""
        valid_time_zone(time_zone)
        clean_name, clean_modalities = _checked(name, [m.value for m in modalities])
        return cls(clean_name, address.as_dict(), time_zone, clean_modalities, id=id)

    @event(Registered)
    def __init__(self, name: str, address: dict[str, str], time_zone: str,
                 modalities: list[str], id: UUID | None = None) -> None:
        self.name = name
        self.address = address
        self.time_zone = time_zone
        self.modalities = modalities

    def revise(self, name: str, address: Address, modalities: list[Modality]) -> None:
        """Name, address and modalities may change; the time zone may not (slots depend on it)."""
        clean_name, clean_modalities = _checked(name, [m.value for m in modalities])
        self._revised(clean_name, address.as_dict(), clean_modalities)

    @event(Revised)
    def _revised(self, name: str, address: dict[str, str], modalities: list[str]) -> None:
        self.name = name
        self.address = address
        self.modalities = modalities

    def set_no_show_rule(self, rule: NoShowRule | None) -> None:
        """The clinic's own rule for its visits, or back to the deployment's (None)."""
        if rule == self.no_show_rule:
            return
        if rule is None:
            self._no_show_policy_set(None, 0, 0, False, 0)
        else:
            self._no_show_policy_set(rule.no_shows, rule.within.days, rule.upcoming,
                                     rule.confirm, int(rule.release_before.total_seconds()
                                                       // 3600))

    @event(NoShowPolicySet)
    def _no_show_policy_set(self, no_shows: int | None, within_days: int, upcoming: int,
                            confirm: bool, release_hours: int) -> None:
        self.no_show_rule = None if no_shows is None else NoShowRule(
            no_shows, timedelta(days=within_days), upcoming, confirm,
            timedelta(hours=release_hours))

    def offers(self, modality: Modality) -> bool:
        return modality.value in self.modalities

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "address": self.address,
                "time_zone": self.time_zone, "modalities": self.modalities}
