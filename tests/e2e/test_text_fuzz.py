"""Arbitrary Unicode through every command that takes text (issue "Hardening", item 1).

Every plane, NUL and the other controls, lone surrogates, bidirectional overrides, decomposed
accents, and very long strings go into each text field of each command over HTTP (the JSON is
ASCII-escaped, so a lone surrogate arrives as the server would read it from any client). Every
answer must be 2xx or 4xx, and afterwards every log follower (each read model and the relay)
must apply the whole log: a text that reached an event must never wedge the read side.
Bounded and seeded (derandomized): the same inputs every run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.access import Role
from infra.observability.projection_lag import ProjectionLag
from infra.observability.state import PROJECTORS
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.relay import build_relay
from tests.e2e.clinic_flow import ADDRESS, open_slots, project_all, set_up_clinic, sign_up

NASTY = ["\x00", "\ud800", "\udfff", "\u202e", "e\u0301", "\x1b[31m", "\x7f", "\x85", "\n",
         "\r\n", "\t", "\ufeff", "\uffff", "\U0010ffff", "\U0001f600", "\u200d", "\U0001d54f", "ß"]
PIECE = st.one_of(st.characters(codec=None, exclude_categories=()), st.sampled_from(NASTY))
TEXT = st.one_of(
    st.lists(PIECE, max_size=40).map("".join),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=8).map(
        lambda pieces: "Ana" + "".join(pieces) + "Lima"),
    st.integers(300, 100_000).map(lambda n: "é" * n),
)
FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture
def settings(settings: Settings) -> Settings:  # the harness's, limits raised
    return settings.model_copy(update={"rate_limit_scale": 10_000})


class World:
    """A clinic, a provider with open times, a signed-up patient; the text goes into a
    copy of a valid body at one field."""

    def __init__(self, client: TestClient, container: Container, token_for: Any,
                 project: Callable[[], int]) -> None:
        self.client, self.admin = client, token_for(Role.admin)
        self.ids = set_up_clinic(client, token_for)
        self.patient_id, self.patient = sign_up(client, container, "fuzz@example.org",
                                                ("treatment", "telehealth"))
        project()
        self.slots = [s["id"] for s in open_slots(self.client, self.ids["checkup"])]
        self.answers: list[tuple[str, int]] = []

    def completed_visits(self, count: int) -> list[str]:
        """Visits booked, checked in and completed, each to be discharged once."""
        visits = []
        for slot in self.slots[-count:]:
            booked = self.send("POST", "/bookings", {"slot_id": slot}, self.patient)
            assert booked.status_code == 201, booked.text
            visit = booked.json()["id"]
            for step in ("check-in", "complete"):
                assert self.send("POST", f"/bookings/{visit}/{step}", {}).status_code == 200
            visits.append(visit)
        self.slots = self.slots[:-count]
        return visits

    def send(self, method: str, path: str, body: dict[str, Any],
             headers: dict[str, str] | None = None) -> Any:
        answer = self.client.request(
            method, path, content=json.dumps(body).encode("ascii"),
            headers={"Content-Type": "application/json",
                     **(self.admin if headers is None else headers)})
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text)
        self.answers.append((path, answer.status_code))
        return answer


def _with(body: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def _commands(world: World) -> list[tuple[str, str, dict[str, Any], tuple[str, ...],
                                          dict[str, str] | None]]:
    ids = world.ids
    clinic = {"name": "Harbor", "address": dict(ADDRESS), "modalities": ["in_person"]}
    service = {"name": "Checkup", "duration_minutes": 30, "modality": "in_person"}
    provider = {"display_name": "Dr. One", "clinic_ids": [ids["clinic"]],
                "service_ids": [ids["checkup"], ids["long"]]}
    patient = {"given_name": "Ana", "family_name": "Lima", "birth_date": "1990-04-01",
               "email": "new@example.org", "phone": "+1 617 555 0100"}
    creating = [("POST", "/clinics", {**clinic, "time_zone": "America/New_York"}, field, None)
                for field in (("name",), ("time_zone",), *(("address", k) for k in ADDRESS))]
    return [
        *creating,
        ("PUT", f"/clinics/{ids['clinic']}", clinic, ("name",), None),
        ("PUT", f"/clinics/{ids['clinic']}", clinic, ("address", "line"), None),
        ("POST", "/services", service, ("name",), None),
        ("PUT", f"/services/{ids['checkup']}", service, ("name",), None),
        ("POST", "/providers", provider, ("display_name",), None),
        ("PUT", f"/providers/{ids['provider']}", provider, ("display_name",), None),
        *(("POST", "/patients", patient, (field,), {})
          for field in ("given_name", "family_name", "email", "phone")),
        ("PUT", f"/patients/{world.patient_id}/contact",
         {"email": "fuzz@example.org", "phone": None}, ("phone",), world.patient),
        ("PUT", f"/patients/{world.patient_id}/contact",
         {"email": "fuzz@example.org", "phone": None}, ("email",), world.patient),
        ("POST", "/auth/email-code", {"email": "fuzz@example.org"}, ("email",), {}),
        ("POST", "/auth/verify", {"email": "fuzz@example.org", "code": "000000"}, ("email",),
         {}),
        ("POST", f"/patients/{world.patient_id}/consents",
         {"purpose": "treatment", "policy_version": "x"}, ("policy_version",), world.patient),
        ("POST", "/webhooks", {"url": "https://partner.example/hooks",
                               "events": ["AppointmentBooked"]}, ("url",), None),
    ]


@pytest.fixture
def world(client: TestClient, container: Container, token_for: Any,
          project: Callable[[], int]) -> World:
    return World(client, container, token_for, project)


def test_any_text_in_any_command_is_answered_and_every_follower_reaches_the_head(
        world: World, container: Container) -> None:
    commands = _commands(world)

    @FUZZ
    @given(which=st.integers(0, len(commands) - 1), text=TEXT)
    def a_command(which: int, text: str) -> None:
        method, path, body, field, headers = commands[which]
        world.send(method, path, _with(body, field, text), headers)

    @FUZZ
    @given(reason=TEXT, note=TEXT)
    def a_booking_and_its_cancellation(reason: str, note: str) -> None:
        slot = world.slots[len(world.answers) % len(world.slots)]
        booked = world.send("POST", "/bookings", {"slot_id": slot, "reason": reason},
                            world.patient)
        if booked.status_code == 201:
            world.send("POST", f"/bookings/{booked.json()['id']}/cancel", {"note": note},
                       world.patient)

    @FUZZ
    @given(path=TEXT)
    def a_webhook_url_with_text_in_it(path: str) -> None:
        world.send("POST", "/webhooks", {"url": f"https://partner.example/{path}",
                                         "events": ["AppointmentCompleted"]})

    completed = world.completed_visits(6)

    @FUZZ
    @given(summary_ref=TEXT)
    def a_discharge(summary_ref: str) -> None:
        visit = completed[0]
        done = world.send("POST", f"/bookings/{visit}/discharge", {"summary_ref": summary_ref})
        if done.status_code == 200 and len(completed) > 1:
            completed.pop(0)  # discharged once: the next texts go to the next visit

    a_command()
    a_booking_and_its_cancellation()
    a_webhook_url_with_text_in_it()
    a_discharge()

    codes = {code for _, code in world.answers}
    assert any(200 <= c < 300 for c in codes) and 422 in codes, codes  # both kinds were seen
    _every_follower_reaches_the_head(container)


def _every_follower_reaches_the_head(container: Container) -> None:
    settings_ = container.settings
    project_all(container)  # every read model
    relay, resources = build_relay(settings_)
    try:
        relay.catch_up()
    finally:
        for resource in resources:
            resource.close()
    head, states = ProjectionLag(container.pool, settings_.db_schema, container.app,
                                 PROJECTORS).states()
    assert head > 0
    for state in states:
        assert state.position == head and state.failure is None, state
