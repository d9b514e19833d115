import time

import jwt
import pytest

from domain.access import ROLE_SCOPES, Role, Scope, roles_with
from infra.auth.tokens import InvalidTokenError, TokenService

SECRET = "s" * 40


@pytest.mark.parametrize("role", list(Role))
def test_a_token_carries_its_roles_scopes(role: Role) -> None:
    service = TokenService(SECRET, "test")
    principal = service.verify(service.issue(role, "subject-1"))
    assert principal.subject == "subject-1"
    assert principal.role is role
    assert principal.scopes == ROLE_SCOPES[role]


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = TokenService("t" * 40, "test").issue(Role.admin, "x")
    with pytest.raises(InvalidTokenError, match="signature"):
        TokenService(SECRET, "test").verify(token)


def test_an_expired_token_is_refused() -> None:
    claims = {"iss": "test", "sub": "x", "role": "admin", "scope": "", "jti": "j",
              "iat": int(time.time()) - 100, "exp": int(time.time()) - 10}
    with pytest.raises(InvalidTokenError, match="expired"):
        TokenService(SECRET, "test").verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_a_token_cannot_claim_scopes_its_role_lacks() -> None:
    claims = {"iss": "test", "sub": "x", "role": "patient", "scope": "audit:read",
              "jti": "j", "iat": int(time.time()), "exp": int(time.time()) + 60}
    principal = TokenService(SECRET, "test").verify(jwt.encode(claims, SECRET, algorithm="HS256"))
    assert not principal.may(Scope.audit_read)


def test_none_algorithm_is_refused() -> None:
    claims = {"iss": "test", "sub": "x", "role": "admin", "scope": "directory:write",
              "jti": "j", "iat": int(time.time()), "exp": int(time.time()) + 60}
    with pytest.raises(InvalidTokenError):
        TokenService(SECRET, "test").verify(jwt.encode(claims, None, algorithm="none"))


@pytest.mark.parametrize("ttl", [0, -1, 10**9])
def test_ttl_is_bounded(ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        TokenService(SECRET, "test").issue(Role.admin, "x", ttl)


def test_every_scope_belongs_to_some_role() -> None:
    assert all(roles_with(scope) for scope in Scope)


def test_a_remembered_token_still_expires() -> None:
    service = TokenService(SECRET, "test")
    token = service.issue(Role.patient, "p-1", ttl_seconds=1)
    assert service.verify(token).subject == "p-1"  # verified, and remembered
    assert service.verify(token).subject == "p-1"  # from memory
    time.sleep(2.1)  # exp has whole seconds
    with pytest.raises(InvalidTokenError, match="expired"):
        service.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused() -> None:
    service = TokenService(SECRET, "test")
    token = service.issue(Role.patient, "p-1")
    service.verify(token)
    header, payload, signature = token.split(".")
    forged_claims = payload[:-2] + ("AA" if payload[-2:] != "AA" else "AB")
    with pytest.raises(InvalidTokenError):
        service.verify(".".join([header, forged_claims, signature]))


def test_staff_tokens_name_their_clinics_and_front_desk_without_them_reach_none() -> None:
    import uuid

    service = TokenService(SECRET, "test")
    clinic = uuid.uuid4()
    desk = service.verify(service.issue(Role.front_desk, "fd", clinics=[clinic]))
    assert desk.clinics == frozenset({clinic})
    assert service.verify(service.issue(Role.front_desk, "fd2")).clinics == frozenset()
    assert service.verify(service.issue(Role.admin, "ops")).clinics is None  # the network's
    scoped_admin = service.verify(service.issue(Role.admin, "ops2", clinics=[clinic]))
    assert scoped_admin.clinics == frozenset({clinic})
    forged = jwt.encode({"iss": "test", "sub": "x", "role": "front_desk", "iat": 1,
                         "exp": int(time.time()) + 60, "jti": "j", "clinics": "all"},
                        SECRET, algorithm="HS256")
    with pytest.raises(InvalidTokenError):
        service.verify(forged)
