from infra.logging import drop_phi


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
