"""Every date and date-time the API reads from a query, at the ends of the calendar
(issue "Hardening", item 2): a clear 4xx problem or an ordinary answer, never a 500 from
date arithmetic that overflows. The web pages that take a day are checked the same way."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.routes import route_access
from tests.e2e.test_route_role_matrix import _token, _world

FAR = {"date": ("9999-12-31", "0001-01-01"),
       "date-time": ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z")}


def _format(schema: dict[str, Any]) -> str | None:
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("format") in FAR:
            return str(option["format"])
    return None


def _caller(allowed: str) -> Role | None:
    if allowed == "public":
        return None
    roles = [Role(role.strip()) for role in allowed.split(",")]
    return Role.admin if Role.admin in roles else roles[0]


def test_far_dates_in_any_query_are_refused_clearly(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    world = _world(client, container, token_for, project)
    document = client.get("/openapi.json").json()
    access = route_access(document)
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            dated = [(p["name"], _format(p["schema"])) for p in operation.get("parameters", [])
                     if p["in"] == "query" and _format(p["schema"])]
            if not dated:
                continue
            caller = _caller(access[(method.upper(), path)])
            subject = {Role.patient: world["patient_id"],
                       Role.provider: world["provider_id"]}.get(caller, "far-1") \
                if caller else ""
            headers = _token(container, caller, subject) if caller else {}
            url = re.sub(r"\{(\w+)\}", lambda m: world[m.group(1)], path)
            for name, kind in dated:
                for value in FAR[str(kind)]:
                    params = {name: value}
                    if path.endswith("/schedule") and name != "day":
                        params["day"] = world["day"]
                    answer = client.request(method.upper(), url, headers=headers,
                                            params=params)
                    assert answer.status_code < 500, (method, path, name, value, answer.text)
                    if answer.status_code >= 400 and not path.startswith("/fhir/"):
                        assert answer.headers["content-type"] == "application/problem+json"
                        assert value not in answer.json().get("detail", "")
                    checked += 1
    assert checked >= 20


def test_far_days_on_the_web_pages_are_answered_in_plain_words(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    world = _world(client, container, token_for, project)
    for value in (*FAR["date"], "2500-01-01"):
        page = client.get("/times", params={"service_id": world["service_id"], "day": value})
        assert page.status_code == 422, page.text
        assert "text/html" in page.headers["content-type"]
        assert "Please pick another day." in page.text
