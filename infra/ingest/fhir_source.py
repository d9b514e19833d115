"""A FHIR R4 Bundle as source rows (docs/ingest.md, "FHIR Bundles"): Location → clinics,
HealthcareService → services, Practitioner (with its PractitionerRoles) → providers,
Schedule (with the PractitionerRole's availableTime) → hours. The same row models check
them as any CSV row; a row's number is its entry's position in the Bundle (1 first).

It reads what our own FHIR face writes (infra/fhir/resources.py: the time-zone and
visit-duration extensions, a clinic's virtual Location as its telehealth) and the plain R4
elements other systems use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import Kind, SourceRow
from domain.availability import WEEKDAYS
from infra.fhir.resources import TIME_ZONE, VISIT_MINUTES
from infra.ingest.partner_source import fetch
from infra.settings.ingest import PartnerSource

R5_TIME_ZONE = "http://hl7.org/fhir/StructureDefinition/timezone"
DAYS = {day[:3]: day for day in WEEKDAYS}  # FHIR's daysOfWeek codes: mon, tue, ...
KIND_OF = {"Location": Kind.clinics, "HealthcareService": Kind.services,
           "Practitioner": Kind.providers, "Schedule": Kind.hours}
Resource = dict[str, Any]


def bundle_content(where: str, timeout_seconds: float = 30.0) -> bytes:
    """The Bundle at a file path or an http(s) URL. A Bundle is one JSON document: it is read
    whole (a CSV file is the format for very large imports)."""
    if not where.startswith(("http://", "https://")):
        try:
            return Path(where).read_bytes()
        except OSError as exc:
            raise IngestSourceError(f"cannot read the FHIR Bundle file: {exc.strerror}") from None
    policy = PartnerSource(url=where, timeout_seconds=timeout_seconds)  # retries as a partner's
    with httpx.Client(timeout=timeout_seconds, follow_redirects=True, headers={
            "Accept": "application/fhir+json, application/json"}) as client:
        return fetch(client, where, policy, "the FHIR Bundle's URL").content


def bundle_rows(content: bytes) -> Iterator[SourceRow]:
    """The rows of a Bundle's entries, references first (clinics, services, providers,
    hours)."""
    try:
        bundle = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise IngestSourceError("the FHIR Bundle is not valid JSON") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise IngestSourceError('not a FHIR Bundle: expected {"resourceType": "Bundle", ...}')
    entries: list[tuple[int, Resource]] = [
        (n, e["resource"]) for n, e in enumerate(bundle.get("entry") or [], 1)
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    found = _Bundle([r for _, r in entries])
    for kind in Kind:
        for number, resource in entries:
            if KIND_OF.get(resource.get("resourceType", "")) is kind:
                values = found.row(kind, resource)
                if values is not None:
                    yield SourceRow(number, kind, values)


class _Bundle:
    def __init__(self, resources: list[Resource]) -> None:
        self.virtual_of: dict[str, str] = {}  # a virtual Location's id -> its clinic's
        self.roles: defaultdict[str, list[Resource]] = defaultdict(list)  # by practitioner
        for r in resources:
            if r.get("resourceType") == "Location" and _id(r.get("partOf")):
                self.virtual_of[r["id"]] = _id(r["partOf"])
            if r.get("resourceType") == "PractitionerRole" and _id(r.get("practitioner")):
                self.roles[_id(r["practitioner"])].append(r)

    def row(self, kind: Kind, r: Resource) -> dict[str, Any] | None:
        if kind is Kind.clinics:
            return None if r.get("id") in self.virtual_of else self._clinic(r)
        if kind is Kind.services:
            return _service(r)
        if kind is Kind.providers:
            return self._provider(r)
        return self._hours(r)

    def _clinic(self, r: Resource) -> dict[str, Any]:
        address = r.get("address") or {}
        zone = next((x.get("valueCode") or x.get("valueString") for x in r.get("extension", [])
                     if x.get("url") in (TIME_ZONE, R5_TIME_ZONE)), None)
        virtual = r.get("id") in self.virtual_of.values()
        return {"external_id": r.get("id"), "name": r.get("name"),
                "address_line": (address.get("line") or [None])[0],
                "city": address.get("city"), "state": address.get("state"),
                "postal_code": address.get("postalCode"), "country": address.get("country"),
                "time_zone": zone,
                "modalities": ["in_person", "telehealth"] if virtual else ["in_person"]}

    def _provider(self, r: Resource) -> dict[str, Any]:
        roles = self.roles.get(r.get("id", ""), [])
        clinics = {self._clinic_of(_id(place)) for role in roles
                   for place in role.get("location", [])}
        services = {_id(s) for role in roles for s in role.get("healthcareService", [])}
        name = (r.get("name") or [{}])[0]
        display = name.get("text") or " ".join(
            [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]).strip()
        return {"external_id": r.get("id"), "display_name": display,
                "clinics": sorted(clinics - {""}), "services": sorted(services - {""})}

    def _hours(self, r: Resource) -> dict[str, Any] | None:
        """A Schedule names its practitioner and location; R4 keeps the weekly hours on
        that PractitionerRole's availableTime. No availableTime: no hours to import."""
        actors = [_id(a) for a in r.get("actor", [])]
        refs = [a.get("reference", "") for a in r.get("actor", [])]
        practitioner = next((i for i, ref in zip(actors, refs, strict=True)
                             if ref.startswith("Practitioner/")), "")
        clinic = next((self._clinic_of(i) for i, ref in zip(actors, refs, strict=True)
                       if ref.startswith("Location/")), "")
        times = [t for role in self.roles.get(practitioner, [])
                 if clinic in {self._clinic_of(_id(p)) for p in role.get("location", [])}
                 for t in role.get("availableTime", [])]
        if not times:
            return None
        week: dict[str, list[list[str]]] = {day: [] for day in WEEKDAYS}
        for t in times:
            span = ["00:00", "24:00"] if t.get("allDay") else \
                [str(t.get("availableStartTime", ""))[:5], str(t.get("availableEndTime", ""))[:5]]
            for code in t.get("daysOfWeek", []):
                if code in DAYS:
                    week[DAYS[code]].append(span)
        values: dict[str, Any] = {"provider": practitioner, "clinic": clinic, **week}
        horizon = r.get("planningHorizon") or {}
        if horizon.get("start") and horizon.get("end"):
            values["horizon_days"] = (date.fromisoformat(horizon["end"][:10]) -
                                      date.fromisoformat(horizon["start"][:10])).days
        return values

    def _clinic_of(self, location_id: str) -> str:
        return self.virtual_of.get(location_id, location_id)


def _service(r: Resource) -> dict[str, Any]:
    duration: dict[str, Any] = next((x.get("valueDuration", {}) for x in r.get("extension", [])
                     if x.get("url") == VISIT_MINUTES), {})
    minutes = duration.get("value")
    if minutes is not None and duration.get("code", duration.get("unit")) in ("h", "hour"):
        minutes = minutes * 60
    codes = {c.get("code") for ch in r.get("characteristic", []) for c in ch.get("coding", [])}
    return {"external_id": r.get("id"), "name": r.get("name"), "duration_minutes": minutes,
            "modality": "telehealth" if "VIDEOCONF" in codes else "in_person"}


def _id(reference: Any) -> str:
    """`Location/abc` -> `abc`."""
    text = reference.get("reference", "") if isinstance(reference, dict) else ""
    return text.rsplit("/", 1)[-1] if "/" in text else ""
