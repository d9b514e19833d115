"""Webhook signatures (Standard Webhooks), the retry schedule and the URL rule, without
servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.webhooks import new_secret
from domain.errors import RuleViolationError
from domain.webhooks import (
    REGISTRY_ID,
    WebhookDisabledError,
    WebhookEvent,
    WebhookLimitError,
    WebhookRegistry,
    WebhookSubscription,
    WebhookUrlRefusedError,
    require_deliverable_url,
)
from infra.webhooks.schedule import RetrySchedule, retry_after_seconds
from infra.webhooks.signing import signature, signed_headers, verify

# The example of the Standard Webhooks specification's reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TIME = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_is_the_specifications_own_example() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TIME, SPEC_BODY) == SPEC_SIGNATURE
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIME, SPEC_BODY)
    assert headers["webhook-signature"] == SPEC_SIGNATURE
    assert verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIME + 10)


@given(body=st.binary(max_size=200), other=st.binary(max_size=200))
def test_any_change_to_the_body_id_or_time_fails_verification(body: bytes,
                                                              other: bytes) -> None:
    secret = new_secret()
    headers = signed_headers(secret, "m1", 1_000_000, body)
    assert verify(secret, headers, body, now=1_000_000)
    assert verify(secret, headers, other, now=1_000_000) == (other == body)
    assert not verify(secret, {**headers, "webhook-id": "m2"}, body, now=1_000_000)
    assert not verify(secret, {**headers, "webhook-timestamp": "1000001"}, body, now=1_000_000)
    assert not verify(new_secret(), headers, body, now=1_000_000)


def test_a_stale_or_future_timestamp_is_refused_and_any_listed_signature_may_match() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "m1", 1_000_000, b"{}")
    assert not verify(secret, headers, b"{}", now=1_000_000 + 301)
    assert not verify(secret, headers, b"{}", now=1_000_000 - 301)
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert verify(secret, rotated, b"{}", now=1_000_000)


def test_a_secret_is_32_random_bytes_in_the_standard_shape() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert new_secret() != secret
    key = base64.b64decode(secret[6:])
    expected = base64.b64encode(hmac.new(key, b"i.1.x", hashlib.sha256).digest()).decode()
    assert signature(secret, "i", 1, b"x") == "v1," + expected


def test_the_default_schedule_spreads_eight_attempts_over_about_a_day() -> None:
    schedule = RetrySchedule()
    waits = [schedule.backoff(n) for n in range(1, schedule.max_attempts)]
    assert waits[:3] == [20.0, 80.0, 320.0] and waits[-1] == 43200.0
    assert 15 * 3600 < sum(waits) < 26 * 3600
    assert schedule.delay(schedule.max_attempts) is None  # the last one failed: dead


@given(attempt=st.integers(1, 7), jitter=st.floats(0, 1))
def test_jitter_stays_within_a_quarter_and_never_passes_the_cap(attempt: int,
                                                                jitter: float) -> None:
    schedule = RetrySchedule()
    wait = schedule.delay(attempt, jitter=lambda: jitter)
    assert wait is not None
    base = schedule.backoff(attempt)
    assert 0.75 * base <= wait <= 1.25 * base


def test_retry_after_is_respected_but_capped() -> None:
    schedule = RetrySchedule(max_attempts=5, base=1.0, cap=60.0)
    assert schedule.delay(1, retry_after=30.0, jitter=lambda: 0.5) == 30.0
    assert schedule.delay(1, retry_after=10_000.0, jitter=lambda: 0.5) == 60.0
    assert schedule.delay(3, retry_after=0.0, jitter=lambda: 0.5) == 16.0
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("-5") == 0.0 and retry_after_seconds("inf") is None


@pytest.mark.parametrize("url", [
    "http://partner.example/hooks", "HTTP://partner.example", "ftp://partner.example/",
    "https://", "https:///path", "https://u:p@partner.example/", "https://partner.example/#x",
    "https://partner.example:70000/", "https://partner.example/a b", "partner.example/hooks",
    "https://127.0.0.1/hooks", "https://localhost:8443/", "https://[::1]/", "https://0.0.0.0/",
    "https://api.localhost/", "https://" + "a" * 2000 + ".example/"])
def test_only_https_to_another_machine_is_deliverable_in_production(url: str) -> None:
    with pytest.raises(WebhookUrlRefusedError):
        require_deliverable_url(url, allow_loopback=False)


def test_development_may_name_this_machine_but_never_plain_http() -> None:
    for url in ("https://127.0.0.1:8443/hooks", "https://localhost/h", "https://[::1]:9/"):
        assert require_deliverable_url(url, allow_loopback=True) == url
    with pytest.raises(WebhookUrlRefusedError):
        require_deliverable_url("http://127.0.0.1:8443/hooks", allow_loopback=True)
    assert require_deliverable_url("https://hooks.partner.example:8443/clinic?x=1",
                                   allow_loopback=False)


def test_a_subscription_names_known_messages_and_ends_once() -> None:
    with pytest.raises(RuleViolationError):
        WebhookSubscription.register(uuid4(), "https://p.example/", [], "sealed",
                                     allow_loopback=False)
    hook = WebhookSubscription.register(
        uuid4(), "https://p.example/", [WebhookEvent.visit_discharged,
                                        WebhookEvent.visit_discharged], "sealed",
        allow_loopback=False)
    assert hook.events == ["VisitDischarged"] and hook.wants("VisitDischarged")
    assert not hook.wants("AppointmentBooked")
    assert hook.disable() and not hook.disable() and not hook.wants("VisitDischarged")
    with pytest.raises(WebhookDisabledError):
        hook.rotate_secret("again")


def test_the_registry_limits_active_subscriptions() -> None:
    registry = WebhookRegistry.start()
    assert registry.id == REGISTRY_ID
    first = uuid4()
    registry.add(first)
    for _ in range(99):
        registry.add(uuid4())
    with pytest.raises(WebhookLimitError):
        registry.add(uuid4())
    registry.remove(first)
    registry.add(uuid4())
    assert len(registry.active) == 100 and len(registry.subscriptions) == 101
