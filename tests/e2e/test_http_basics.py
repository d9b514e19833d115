"""Health, readiness, OpenAPI, problem documents and request ids over HTTP."""

import json
import logging

import pytest
from fastapi.testclient import TestClient

from domain.access import Role

PROBLEM = "application/problem+json"


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready", "checks": {"postgres": True, "redis": True, "messages": True},
        "degraded": [],
    }


def test_readyz_says_not_ready_when_redis_is_gone(client: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    import redis

    container.redis = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] is False


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Clinic booking engine"
    assert "/readyz" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 36
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-12345678"})
    assert echoed.headers["x-request-id"] == "abc-12345678"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert unsafe.headers["x-request-id"] != "bad id\nwith newline"


def test_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/no/such/route", headers={"X-Request-ID": "req-00000001"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:clinic:problem:not-found"
    assert body["status"] == 404 and body["instance"] == "/no/such/route"
    assert body["request_id"] == "req-00000001"


def test_wrong_method_is_a_problem_document(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["type"] == "urn:clinic:problem:method-not-allowed"


def test_validation_errors_are_problem_documents_that_echo_no_input(
    client: TestClient, token_for  # type: ignore[no-untyped-def]
) -> None:
    response = client.get("/messages?limit=SECRET-INPUT", headers=token_for(Role.admin))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:clinic:problem:validation-error"
    assert body["errors"][0]["location"] == ["query", "limit"]
    assert "SECRET-INPUT" not in response.text


def test_me_reports_the_tokens_subject_and_role(client: TestClient, token_for) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/me", headers=token_for(Role.provider, "prov-7")).json()
    assert body["subject"] == "prov-7" and body["role"] == "provider"
    assert "availability:write" in body["scopes"]


def test_messages_reads_back_the_local_sink(client: TestClient, container, token_for) -> None:  # type: ignore[no-untyped-def]
    from projections.ports import OutboundMessage

    container.publisher.publish([OutboundMessage("clinic.test", b"k1", b"\x01", {"h": b"v"})])
    body = client.get("/messages", headers=token_for(Role.compliance)).json()
    assert body == [{"topic": "clinic.test", "key": "k1", "value_base64": "AQ==",
                     "headers": {"h": "v"}}]


def test_request_log_lines_are_json_with_the_request_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.observability.logging import configure_logging

    configure_logging("INFO")
    try:
        client.get("/healthz", headers={"X-Request-ID": "log-test-0001"})
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert request_lines and request_lines[-1]["request_id"] == "log-test-0001"
    assert request_lines[-1]["route"] == "/healthz" and request_lines[-1]["status"] == 200


def test_a_405_allows_every_method_of_the_path(client: TestClient) -> None:
    # GET /clinics (read side) and POST /clinics (write side) are separate routes; the 405 of
    # the first one used to say `Allow: GET`. Found by tests/e2e/test_openapi_fuzz.py.
    response = client.delete("/clinics")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert client.patch("/clinics/00000000-0000-0000-0000-000000000001"
                        ).headers["allow"] == "GET, PUT"


def test_openapi_documents_the_problems_each_operation_can_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            for status in ("500", "503"):
                if path.startswith("/fhir/"):  # FHIR's own error resource
                    outcome = responses[status]["content"]["application/fhir+json"]["schema"]
                    assert outcome["properties"]["resourceType"] == {
                        "const": "OperationOutcome"}, where
                else:
                    assert responses[status]["content"][PROBLEM] == problem, where
            if any(v for req in operation.get("security", []) for v in req.values()):
                assert {"401", "403"} <= responses.keys(), where
                assert "WWW-Authenticate" in responses["401"]["headers"], where
            if "requestBody" in operation:
                assert {"400", "422"} <= responses.keys(), where
            if "{" in path:
                assert "404" in responses, where
            for status, response in responses.items():
                if int(status) >= 400:
                    assert "application/json" not in response.get("content", {}) or \
                        status == "503", where  # /readyz answers its own 503 body
    holds = spec["paths"]["/holds"]["post"]
    assert {} in holds["security"]  # a token is optional there
    assert "Retry-After" in holds["responses"]["429"]["headers"]
