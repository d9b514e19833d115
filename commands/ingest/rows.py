"""One pydantic model per kind of imported row (docs/ingest.md): the columns a source gives,
checked for shape, then turned into the write side's own command models (commands/models.py)
so that the bounds and text rules live once.

A CSV cell is text; a partner API or a FHIR Bundle gives JSON values. The models accept both:
a list may come as a list or as `;`-separated text, a duration as minutes or ISO 8601
(`PT1H30M`), and an empty cell is an absent one (its default applies); cells.py reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from commands.ingest.cells import (
    DayHours,
    ExternalId,
    Listed,
    as_iso_day,
    as_list,
    as_minutes,
    as_phone,
    as_time_zone,
)
from commands.models import (
    AddressIn,
    AvailabilityIn,
    ClinicCreate,
    DateExceptionIn,
    ServiceCreate,
    Weekly,
)
from domain.availability import WEEKDAYS
from domain.modality import Modality


class Kind(StrEnum):
    """What a row describes; also the order a mixed run applies them in (references first)."""

    clinics = "clinics"
    services = "services"
    providers = "providers"
    hours = "hours"
    time_off = "time_off"


# What a source gives when no kind is named (time off is asked for by name).
DIRECTORY = (Kind.clinics, Kind.services, Kind.providers, Kind.hours)


@dataclass(frozen=True)
class SourceRow:
    """One record as a source read it: its position (1 is the first data row), its kind and
    its raw values by column."""

    number: int
    kind: Kind
    values: Mapping[str, Any]
    defect: str | None = None  # the source could not make it a row (e.g. a cell too many)
    defect_rule: str = "row-shape"  # the rule a defect breaks (`encoding`: not UTF-8)


class Row(BaseModel):
    """Unknown columns are refused by the source's header check, not per row."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_cells_are_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v not in ("", None)}
        return data

    @property
    def key(self) -> str:
        """The row's stable external id within its source."""
        raise NotImplementedError

    @classmethod
    def raw_key(cls, values: Mapping[str, Any]) -> str:
        """The external id of a row that may not have passed its checks (a snapshot's rows,
        good or bad, are all present in the source)."""
        return str(values.get("external_id") or "").strip()

    @classmethod
    def columns(cls) -> tuple[list[str], list[str]]:
        """(required, optional) column names."""
        required = [n for n, f in cls.model_fields.items() if f.is_required()]
        return required, [n for n in cls.model_fields if n not in required]


class ClinicRow(Row):
    external_id: ExternalId
    name: str
    address_line: str
    city: str
    state: str
    postal_code: str
    country: str = "US"
    time_zone: Annotated[str, BeforeValidator(as_time_zone)]
    modalities: Annotated[list[Modality], BeforeValidator(as_list)]
    phone: Annotated[str | None, BeforeValidator(as_phone)] = None  # checked; not stored yet

    @property
    def key(self) -> str:
        return self.external_id

    def command(self) -> ClinicCreate:
        address = AddressIn(line=self.address_line, city=self.city, state=self.state,
                            postal_code=self.postal_code, country=self.country)
        return ClinicCreate(name=self.name, address=address, time_zone=self.time_zone,
                            modalities=self.modalities)


class ServiceRow(Row):
    external_id: ExternalId
    name: str
    duration_minutes: Annotated[int, BeforeValidator(as_minutes)]
    modality: Modality

    @property
    def key(self) -> str:
        return self.external_id

    def command(self) -> ServiceCreate:
        return ServiceCreate(name=self.name, duration_minutes=self.duration_minutes,
                             modality=self.modality)


class ProviderRow(Row):
    """`clinics` and `services` name the source's own external ids."""

    external_id: ExternalId
    display_name: str
    clinics: Annotated[Listed, Field(min_length=1, max_length=50)]
    services: Annotated[Listed, Field(min_length=1, max_length=50)]

    @property
    def key(self) -> str:
        return self.external_id


class HoursRow(Row):
    """One provider's weekly hours at one clinic (one Schedule), in the clinic's local time.
    Dated exceptions already published stay as they are."""

    provider: ExternalId
    clinic: ExternalId
    monday: DayHours = []
    tuesday: DayHours = []
    wednesday: DayHours = []
    thursday: DayHours = []
    friday: DayHours = []
    saturday: DayHours = []
    sunday: DayHours = []
    granularity_minutes: Annotated[int, BeforeValidator(as_minutes)] = 15
    buffer_before_minutes: Annotated[int, BeforeValidator(as_minutes)] = 0
    buffer_after_minutes: Annotated[int, BeforeValidator(as_minutes)] = 0
    horizon_days: int = 30
    min_notice_minutes: Annotated[int, BeforeValidator(as_minutes)] = 60

    @property
    def key(self) -> str:
        return f"{self.provider}@{self.clinic}"

    @classmethod
    def raw_key(cls, values: Mapping[str, Any]) -> str:
        return f"{str(values.get('provider') or '').strip()}@" \
               f"{str(values.get('clinic') or '').strip()}"

    def command(self, exceptions: list[dict[str, Any]]) -> AvailabilityIn:
        return AvailabilityIn(
            weekly=Weekly(**{day: getattr(self, day) for day in WEEKDAYS}),
            exceptions=[DateExceptionIn(**ex) for ex in exceptions],
            granularity_minutes=self.granularity_minutes,
            buffer_before_minutes=self.buffer_before_minutes,
            buffer_after_minutes=self.buffer_after_minutes,
            horizon_days=self.horizon_days, min_notice_minutes=self.min_notice_minutes)


class TimeOffRow(Row):
    """One date's exception to a provider's weekly hours at one clinic, in the clinic's
    local time: `off` (the whole day, or the given hours) or `extra` hours. The weekly hours
    must be published (or be in the same run); the rest of them stay as they are."""

    provider: ExternalId
    clinic: ExternalId
    date: Annotated[date, BeforeValidator(as_iso_day)]
    kind: Literal["off", "extra"] = "off"
    hours: DayHours = []

    @property
    def key(self) -> str:
        return f"{self.provider}@{self.clinic}/{self.date.isoformat()}"

    @classmethod
    def raw_key(cls, values: Mapping[str, Any]) -> str:
        return f"{HoursRow.raw_key(values)}/{str(values.get('date') or '').strip()}"  # = key

    def exception(self) -> DateExceptionIn:
        return DateExceptionIn(date=self.date.isoformat(), kind=self.kind,
                               intervals=self.hours)


ROW_MODELS: dict[Kind, type[Row]] = {Kind.clinics: ClinicRow, Kind.services: ServiceRow,
                                     Kind.providers: ProviderRow, Kind.hours: HoursRow,
                                     Kind.time_off: TimeOffRow}

# Where a command model's field comes from, when its name is not the column's.
COLUMN_OF = {("address", "line"): "address_line", ("address", "city"): "city",
             ("address", "state"): "state", ("address", "postal_code"): "postal_code",
             ("address", "country"): "country", ("clinic_ids",): "clinics",
             ("service_ids",): "services"}
