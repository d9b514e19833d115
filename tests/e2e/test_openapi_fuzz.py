"""Schemathesis against the app's own OpenAPI document, in-process, with real data and tokens.

Every operation, for every role that may call it (the document's security scopes, which
tests/e2e/test_access_policy.py holds equal to docs/access.md), gets generated requests in both
modes: positive (valid by the schema) and negative (invalid somewhere), from schemathesis's
examples, coverage (boundary values, each constraint broken in turn) and fuzzing phases.
Every response must not be a 5xx, must have a documented status, content type, headers and
body, and invalid input must be refused (4xx).

The world is real: a clinic, two services, a provider with published hours and projected slots,
a verified patient who consented, with a booking and a hold. Path, query and body fields that
name records draw those ids most of the time (schemathesis dictionaries; positive mode only), so
requests reach the code behind the 404s. Bounded and seeded: the same requests every run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.python.asgi import shutdown_lifespans

from domain.access import Role
from infra.http.app import create_app
from infra.settings import Settings
from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up
from tests.e2e.routes import route_access

SEED = 20_240_611
MAX_EXAMPLES = 20  # fuzzing-phase cases per operation; examples and coverage add their own
REAL_ID_PROBABILITY = 0.75
PATIENT_EMAIL = "fuzz@example.org"
# Calling these ends the caller's session: they get credentials of their own.
ENDS_SESSION = {("POST", "/auth/sign-out")}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The fuzzer sends thousands of requests from one address: scale the limits so that they
    reach the routes instead of stopping at 429 (documented, and accepted by the checks)."""
    return settings.model_copy(update={"rate_limit_scale": 10_000, "max_holds_per_client": 50})


@dataclass
class World:
    ids: dict[str, list[str]]
    access: dict[tuple[str, str], str]  # (METHOD, path) -> "public" or the roles allowed
    optional_auth: set[tuple[str, str]]  # public, but a bearer token changes the answer
    headers: dict[str, dict[str, str]]  # caller (a role or "anonymous") -> request headers
    fresh_headers: Callable[[str], dict[str, str]]  # a new session for that caller

    def callers(self, method: str, path: str) -> list[str]:
        allowed = self.access[(method, path)]
        if allowed != "public":
            return [role.strip() for role in allowed.split(",")]
        return ["anonymous", Role.patient.value] if (method, path) in self.optional_auth \
            else ["anonymous"]

    def headers_for(self, caller: str, method: str, path: str) -> dict[str, str]:
        if (method, path) in ENDS_SESSION:
            return self.fresh_headers(caller)
        return self.headers[caller]


@pytest.fixture
def world(client: TestClient, container: Container, token_for: Any, project: Any) -> World:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    slots = open_slots(client, ids["checkup"], 20) + open_slots(client, ids["long"], 5)
    patient_id, patient = sign_up(client, container, PATIENT_EMAIL,
                                  consents=("treatment", "telehealth"))
    booked = client.post("/bookings", headers=patient,
                         json={"slot_id": slots[0]["id"], "reason": "check-up"})
    assert booked.status_code == 201, booked.text
    held = client.post("/holds", json={"slot_id": slots[1]["id"]})
    assert held.status_code == 201, held.text
    waits = client.post("/waitlist/entries", headers=patient, json={
        "service_id": ids["checkup"], "not_after": slots[-1]["end"]})
    assert waits.status_code == 201, waits.text
    project()
    openapi = client.get("/openapi.json").json()

    def staff(role: Role) -> dict[str, str]:
        subject = ids["provider"] if role is Role.provider else f"fuzz-{role.value}"
        headers: dict[str, str] = token_for(role, subject, 3600)
        return headers

    def fresh(caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller != Role.patient.value:
            return staff(Role(caller))
        assert client.post("/auth/email-code", json={"email": PATIENT_EMAIL}).status_code == 202
        signed_in = client.post("/auth/verify", json={
            "email": PATIENT_EMAIL, "code": last_code(container, PATIENT_EMAIL)})
        assert signed_in.status_code == 200, signed_in.text
        return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

    today = date.today()
    return World(
        ids={
            "clinics": [ids["clinic"]],
            "services": [ids["checkup"], ids["long"]],
            "providers": [ids["provider"]],
            "patients": [patient_id],
            "appointments": [booked.json()["id"]],
            "entries": [waits.json()["id"]],
            "slots": [s["id"] for s in slots],
            "holds": [held.json()["hold_id"]],
            "hold_secrets": [held.json()["hold_secret"]],
            "days": [(today + timedelta(days=n)).isoformat() for n in range(3)],
            "emails": [PATIENT_EMAIL],
        },
        access=route_access(openapi),
        optional_auth={(method.upper(), path) for path, operations in openapi["paths"].items()
                       for method, operation in operations.items()
                       if {} in operation.get("security", [])},
        headers={"anonymous": {}, Role.patient.value: patient,
                 **{r.value: staff(r) for r in Role if r is not Role.patient}},
        fresh_headers=fresh,
    )


def fuzz_config(world: World) -> schemathesis.Config:
    def real(dictionary: str, probability: float = REAL_ID_PROBABILITY) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": probability}

    parameters = {
        **{f"{where}.{name}": real(dictionary)
           for where in ("path", "query")
           for name, dictionary in (("clinic_id", "clinics"), ("service_id", "services"),
                                    ("provider_id", "providers"))},
        "path.patient_id": real("patients"),
        "path.appointment_id": real("appointments"),
        "path.entry_id": real("entries"),
        "path.slot_id": real("slots"),
        "path.hold_id": real("holds"),
        "header.hold-secret": real("hold_secrets"),
        "query.day": real("days"),
        "body.slot_id": real("slots"),
        "body.hold_id": real("holds"),
        "body.patient_id": real("patients"),
        "body.clinic_ids[*]": real("clinics"),
        "body.service_ids[*]": real("services"),
        "body.email": real("emails", 0.5),
    }
    return schemathesis.Config.from_dict({
        "seed": SEED,
        # Generating the larger bodies (400 dated exceptions) can be slow on a busy 2-core box;
        # that is no finding, and the run is bounded by MAX_EXAMPLES anyway.
        "suppress-health-check": ["too_slow"],
        "generation": {
            "mode": "all",  # positive and negative
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # Tokens come from the world, one per role; a generated one would only test 401.
            "with-security-parameters": False,
        },
        # Each operation on its own; the world is shared by all of them.
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # Schema-valid input can still break a business rule (cancelling a cancelled visit,
            # an unknown IANA zone, a cursor this API never issued): a 422 problem naming the
            # rule is the right answer, so the built-in check takes 422. Request validation
            # refusing schema-valid input is not: `schema_valid_input_passes_validation`.
            # FHIR answers a search parameter it cannot apply (two lower bounds, a date
            # that is no date) with 400 and an OperationOutcome (docs/fhir.md).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "422",
                                      "429"]},
        },
        "dictionaries": {name: {"values": values} for name, values in world.ids.items()},
        "parameters": parameters,
    })


@pytest.fixture
def openapi_schema(world: World, container: Container) -> Iterator[Any]:
    # A second app on the same container: schemathesis runs its lifespan (a read pool on its own
    # event loop) and calls it in-process; the world was built through `client`.
    app = create_app(container)
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=fuzz_config(world))
    shutdown_lifespans()


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 labels each operation's subtest by rewriting the private `_nodeid` of
    # the test item, which pytest 9.2 no longer has; give it one (it only affects labels).
    request.node._nodeid = request.node.nodeid


@pytest.fixture(autouse=True)
def _quiet_request_log(caplog: pytest.LogCaptureFixture) -> None:
    # Thousands of requests: a failure report shows the failing case, not every access line.
    caplog.set_level(logging.WARNING, logger="clinic.http")


def schema_valid_input_passes_validation(ctx: Any, response: Any, case: Any) -> None:
    """A positive case may break a business rule, never request validation: a 400, or a 422
    listing `errors` per field, means the document promises input the app refuses."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    problem = response.json() if response.status_code in (400, 422) else {}
    if case.operation.path.startswith("/fhir/"):  # FHIR's 400 for a search it cannot apply
        issues = problem.get("issue", [])
        assert len(issues) <= 1, f"schema-valid input refused by request validation: {problem}"
        return
    assert response.status_code != 400 and "errors" not in problem, (
        f"schema-valid input refused by request validation: {problem}")


fuzzed = schemathesis.pytest.from_fixture("openapi_schema")


@fuzzed.parametrize()
def test_every_operation_for_every_role_that_may_call_it(case: Any, world: World) -> None:
    method, path = case.operation.method.upper(), case.operation.path
    for caller in world.callers(method, path):
        case.call_and_validate(headers=world.headers_for(caller, method, path),
                               additional_checks=[schema_valid_input_passes_validation])
