"""Every route is deliberately public or declares Authorized(scope), as docs/access.md says."""

import re

from fastapi.testclient import TestClient

from domain.access import Role, Scope, roles_with
from tests.e2e.routes import FRAMEWORK_ROUTES, documented_access, route_access


def test_docs_access_lists_every_route_with_the_roles_the_code_allows(
    client: TestClient,
) -> None:
    actual = route_access(client.get("/openapi.json").json())
    documented = documented_access()
    framework = {k: documented.pop(k) for k in list(documented) if k in FRAMEWORK_ROUTES}
    assert all(v == "public" for v in framework.values())
    assert documented == actual


def test_every_protected_route_rejects_a_request_without_a_token(client: TestClient) -> None:
    protected = [k for k, v in route_access(client.get("/openapi.json").json()).items()
                 if v != "public"]
    assert protected, "the skeleton has protected routes"
    for method, path in protected:
        url = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)  # ids
        response = client.request(method, url)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == (  # FHIR answers an OperationOutcome
            "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json")
        body = response.json()
        code = body["issue"][0]["details"]["coding"][0]["code"] if path.startswith(
            "/fhir/") else body["type"].removeprefix("urn:clinic:problem:")
        assert code == "unauthenticated"


def test_roles_outside_a_routes_scope_get_403(client: TestClient, token_for) -> None:  # type: ignore[no-untyped-def]
    for role in Role:
        response = client.get("/messages", headers=token_for(role))
        allowed = role in roles_with(Scope.messages_read)
        assert response.status_code == (200 if allowed else 403), role
        if not allowed:
            assert response.json()["type"] == "urn:clinic:problem:forbidden"


def test_a_garbage_token_is_401(client: TestClient) -> None:
    response = client.get("/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
