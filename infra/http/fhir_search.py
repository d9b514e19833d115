"""The FHIR door's search parameters as our searches: the clinic a Location reference names,
and a Slot search (also `Appointment/$find`'s) as slot search's `SlotSearch`."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from domain.errors import NotFoundError
from infra.fhir import resources
from infra.fhir.search import (
    InvalidFhirSearchError,
    Range,
    ids_of,
    local_limit,
    reference_id,
    token_code,
    utc_limit,
)
from queries.slots import DEFAULT_RANGE, MAX_RANGE, SlotSearch


def slot_search_of(schedule: str | None, start: list[str], end: list[str],
                 service_type: str | None, schedule_actor: str | None, status: str,
                 count: int, page_token: str | None, ids: str | None = None) -> SlotSearch:
    """Without `start` a search spans 14 days from now; by `_id`, the longest span a search
    may have (93 days), so that a slot named by id is found wherever it falls in it."""
    starts, ends = Range(), Range()
    for value in start:
        starts.add("start", value)
    for value in end:
        ends.add("end", value)
    provider_id = clinic_id = None
    if schedule_actor and schedule_actor.startswith("Location/"):
        clinic_id = clinic_of_location(schedule_actor, "schedule.actor")[0]
    elif schedule_actor:
        provider_id = reference_id("schedule.actor", schedule_actor, "Practitioner")
    now = datetime.now(UTC)
    start_from = utc_limit(starts.lower, lower=True) or now
    span = MAX_RANGE if ids is not None and starts.upper is None else DEFAULT_RANGE
    start_to = utc_limit(starts.upper, lower=False) or start_from + span
    return SlotSearch(
        start_from=start_from, start_to=start_to,
        schedule_id=reference_id("schedule", schedule, "Schedule") if schedule else None,
        slot_ids=ids_of(ids, "Slot") if ids is not None else None,
        service_id=token_code("service-type", service_type, resources.SERVICE_SYSTEM)
        if service_type else None,
        provider_id=provider_id,
        clinic_id=clinic_id, status=status,
        local_start_from=local_limit(starts.lower, lower=True),
        local_start_to=local_limit(starts.upper, lower=False),
        end_from=utc_limit(ends.lower, lower=True, window=False),
        end_to=utc_limit(ends.upper, lower=False, window=False),
        local_end_from=local_limit(ends.lower, lower=True),
        local_end_to=local_limit(ends.upper, lower=False),
        limit=count, cursor=page_token)


def clinic_of_location(text: str, parameter: str | None = None) -> tuple[UUID, bool]:
    """The clinic a Location id (`Location/` optional) names, and whether it is the clinic's
    virtual Location. Anything else names no Location: a 404 on a read, a bad `parameter`
    (400) in a search."""
    given = text.removeprefix("Location/")
    virtual = given.startswith(resources.VIRTUAL)
    try:
        return UUID(given.removeprefix(resources.VIRTUAL)), virtual
    except ValueError:
        if parameter is not None:
            raise InvalidFhirSearchError(f"{parameter}: not a Location "
                                         "reference") from None
        raise NotFoundError(f"no Location/{text}") from None
