import json
import logging

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from infra.observability.logging import configure_logging, drop_phi


def test_phi_keys_are_masked_and_emails_redacted() -> None:
    event = {"event": "sent code to ana.lima@example.org", "email": "ana@example.org",
             "given_name": "Ana", "reason": "sore throat", "patient_id": "123",
             "detail": "user bob@example.com failed"}
    cleaned = drop_phi(None, "info", dict(event))
    assert cleaned["email"] == cleaned["given_name"] == cleaned["reason"] == "[redacted]"
    assert cleaned["event"] == "sent code to [email]"
    assert cleaned["detail"] == "user [email] failed"
    assert cleaned["patient_id"] == "123"


def test_nested_values_tokens_and_phone_numbers_are_redacted() -> None:
    event = {"event": "call +1 (555) 010-2233 now", "context": {"phone": "x", "ok": 5,
             "items": [{"family_name": "Lima"}, "mail ana@example.org"]},
             "header": "Bearer eyJhbGciOi.abc.def", "duration_ms": 3.2,
             "patient_id": "6f1c2d3e-aaaa-4bbb-8ccc-123456789abc"}
    cleaned = drop_phi(None, "info", dict(event))
    assert cleaned["event"] == "call [phone] now"
    assert cleaned["context"] == {"phone": "[redacted]", "ok": 5,
                                  "items": [{"family_name": "[redacted]"}, "mail [email]"]}
    assert cleaned["header"] == "[token]" and cleaned["duration_ms"] == 3.2
    assert cleaned["patient_id"] == event["patient_id"]  # ids stay: they are what logs carry


def test_dates_and_durations_are_left_alone() -> None:
    event = {"event": "run at 2026-11-24 21:14:53 took 1234567 ms (555) 010-2233 "
                      "or 555-010-2233, id 6f1c2d3e-aaaa-4bbb-8ccc-123456789abc"}
    assert drop_phi(None, "info", dict(event))["event"] == (
        "run at 2026-11-24 21:14:53 took 1234567 ms [phone] or [phone], "
        "id 6f1c2d3e-aaaa-4bbb-8ccc-123456789abc")


def test_join_link_tokens_and_jwts_in_free_text_are_redacted() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhcHQiOiIxIn0.c2lnbmF0dXJl-_x"
    event = {"event": f'127.0.0.1:5 - "GET /telehealth/join?token={jwt}&x=1 HTTP/1.1" 200',
             "url": f"https://clinic.example.org/telehealth/join?token={jwt}",
             "detail": f"decoded {jwt} later"}
    cleaned = drop_phi(None, "info", dict(event))
    assert cleaned["event"] == '127.0.0.1:5 - "GET /telehealth/join?token=[token]&x=1 HTTP/1.1" 200'
    assert cleaned["url"] == "https://clinic.example.org/telehealth/join?token=[token]"
    assert cleaned["detail"] == "decoded [token] later"


def test_a_line_logged_in_a_request_and_a_span_is_json_with_its_ids(
        capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO")
    span = TracerProvider().get_tracer("test").start_span("request")
    context = span.get_span_context()
    try:
        with trace.use_span(span, end_on_exit=True), \
                structlog.contextvars.bound_contextvars(request_id="req-12345678"):
            structlog.get_logger("clinic.test").info("booked", patient_id="p-1")
            logging.getLogger("some.library").warning("retrying %s", "ana@example.org")
        structlog.get_logger("clinic.test").info("outside")
    finally:
        root.handlers[:], root.level = handlers, level
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    inside, foreign, outside = lines
    for line in (inside, foreign):
        assert line["trace_id"] == format(context.trace_id, "032x")
        assert line["span_id"] == format(context.span_id, "016x")
        assert line["request_id"] == "req-12345678"
    assert inside["event"] == "booked" and inside["patient_id"] == "p-1"
    assert foreign["event"] == "retrying [email]" and foreign["logger"] == "some.library"
    assert not {"trace_id", "span_id", "request_id"} & set(outside)
