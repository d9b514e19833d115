"""Join links: signed with their own key, bound to one visit, one participant and one start."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from domain.access import Role
from domain.telehealth import Participant
from infra.auth.tokens import InvalidTokenError, TokenService
from infra.crypto.join_links import AUDIENCE, InvalidJoinLinkError, join_links
from infra.settings import Settings

SETTINGS = Settings(public_url="https://clinic.example.org/")
APPOINTMENT, PATIENT = uuid.uuid4(), uuid.uuid4()
START = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
END = START + timedelta(minutes=30)


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_link_names_the_visit_the_participant_and_the_start() -> None:
    links = join_links(SETTINGS)
    url = links.url_for(APPOINTMENT, "patient", PATIENT, START, END)
    assert url.startswith("https://clinic.example.org/telehealth/join?token=")
    claims = links.verify(_token(url))
    assert (claims.appointment_id, claims.role, claims.participant_id) == (
        APPOINTMENT, Participant.patient, PATIENT)
    assert claims.start == START and claims.expires_at == END
    raw = jwt.decode(_token(url), options={"verify_signature": False})
    assert raw["aud"] == AUDIENCE and "nbf" not in raw and raw["exp"] == int(END.timestamp())


def test_the_api_token_key_neither_signs_nor_accepts_join_links() -> None:
    links = join_links(SETTINGS)
    api = TokenService(SETTINGS.jwt_secret.get_secret_value(), SETTINGS.jwt_issuer)
    with pytest.raises(InvalidTokenError):
        api.verify(links.token(APPOINTMENT, "patient", PATIENT, START, END))
    with pytest.raises(InvalidJoinLinkError):
        links.verify(api.issue(Role.patient, str(PATIENT)))
    forged = jwt.encode(jwt.decode(links.token(APPOINTMENT, "patient", PATIENT, START, END),
                                   options={"verify_signature": False}),
                        SETTINGS.jwt_secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(InvalidJoinLinkError):
        links.verify(forged)


def test_an_expired_link_is_refused() -> None:
    links = join_links(SETTINGS)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(InvalidJoinLinkError, match="expired"):
        links.verify(links.token(APPOINTMENT, "provider", PATIENT, past - timedelta(hours=1),
                                 past))


def test_room_ids_are_shared_per_visit_and_reveal_nothing() -> None:
    links, other = join_links(SETTINGS), uuid.uuid4()
    assert links.room_id(APPOINTMENT) == join_links(SETTINGS).room_id(APPOINTMENT)
    assert links.room_id(APPOINTMENT) != links.room_id(other)
    assert str(APPOINTMENT) not in links.room_id(APPOINTMENT)
    assert APPOINTMENT.hex not in links.room_id(APPOINTMENT)


def test_public_url_must_be_absolute_http() -> None:
    for bad in ("clinic.example.org", "ftp://clinic.example.org", "https://x.org/?a=1"):
        with pytest.raises(ValueError):
            Settings(public_url=bad)
