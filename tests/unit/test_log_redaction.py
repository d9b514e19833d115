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
