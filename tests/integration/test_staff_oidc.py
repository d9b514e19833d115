"""Staff sign in at the network's OpenID Connect provider: a real Keycloak started by the test
harness, the API configured with its issuer (issue "Hardening", staff identity)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from domain.access import Role
from infra.http.app import create_app
from infra.settings import Settings
from infra.wiring.container import Container
from tests.harness.keycloak import AUDIENCE, Keycloak, keycloak_server
from tests.harness.servers import temporary_folder

CLINIC = str(uuid.uuid4())
PROVIDER = str(uuid.uuid4())


@pytest.fixture(scope="module")
def keycloak() -> Iterator[Keycloak]:
    with temporary_folder("clinic-keycloak-") as folder, keycloak_server(Path(folder)) as kc:
        kc.add_user("desk", "clinic-desk", {"clinics": [CLINIC]})
        kc.add_user("ops", "clinic-ops", {})
        kc.add_user("doc", "doctor", {"provider_id": [PROVIDER]})
        yield kc


@pytest.fixture
def api(settings: Settings, keycloak: Keycloak) -> Iterator[TestClient]:
    configured = settings.model_copy(update={
        "oidc_issuer": keycloak.issuer, "oidc_audience": AUDIENCE, "oidc_leeway_seconds": 0,
        "oidc_key_refresh_cooldown_seconds": 1,
        "oidc_role_map": "clinic-desk=front_desk,clinic-ops=admin,doctor=provider"})
    container = Container.build(configured)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client
    container.close()


def _me(api: TestClient, token: str) -> tuple[int, dict[str, object]]:
    answer = api.get("/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, answer.json()


def test_a_staff_token_of_the_realm_acts_in_its_mapped_role_and_clinics(
        api: TestClient, keycloak: Keycloak) -> None:
    status, me = _me(api, keycloak.token("desk"))
    assert status == 200, me
    assert me["role"] == Role.front_desk.value and me["clinics"] == [CLINIC]
    status, me = _me(api, keycloak.token("ops"))
    assert (status, me["role"], me["clinics"]) == (200, "admin", None)  # the network's
    status, me = _me(api, keycloak.token("doc"))
    assert (status, me["role"], me["subject"]) == (200, "provider", PROVIDER)
    # Tokens from `clinic token issue` keep working beside the provider's.
    local = api.app.state.container.tokens.issue(Role.compliance, "auditor")  # type: ignore[attr-defined]
    assert _me(api, local)[0] == 200


def test_a_token_for_another_audience_is_refused(api: TestClient, keycloak: Keycloak) -> None:
    status, problem = _me(api, keycloak.token("desk", client="other-app"))
    assert status == 401 and "audience" in str(problem["detail"])


def test_a_token_signed_by_a_key_not_the_providers_is_refused(
        api: TestClient, keycloak: Keycloak) -> None:
    genuine = jwt.decode(keycloak.token("desk"), options={"verify_signature": False})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(genuine, key, algorithm="RS256", headers={"kid": "not-theirs"})
    assert _me(api, forged)[0] == 401
    hmac = jwt.encode(genuine, "a-guessed-shared-secret-of-enough-length!", algorithm="HS256")
    assert _me(api, hmac)[0] == 401


def test_a_rotated_signing_key_is_picked_up_without_a_restart(
        api: TestClient, keycloak: Keycloak) -> None:
    before = keycloak.token("desk")
    assert _me(api, before)[0] == 200  # the key set is now cached
    keycloak.rotate_keys()
    after = keycloak.token("desk")
    time.sleep(1.1)  # past the cooldown between two fetches of the key set
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    status, me = _me(api, after)  # an unknown kid: the key set is fetched again
    assert status == 200, me


def test_an_expired_token_is_refused(api: TestClient, keycloak: Keycloak) -> None:
    keycloak.set_token_lifespan(1)
    try:
        short = keycloak.token("ops")
    finally:
        keycloak.set_token_lifespan(300)
    time.sleep(2.5)
    status, problem = _me(api, short)
    assert status == 401 and "expired" in str(problem["detail"])


def test_a_user_whose_role_was_removed_is_refused_with_their_next_token(
        api: TestClient, keycloak: Keycloak) -> None:
    user = keycloak.add_user("leaver", "clinic-desk", {"clinics": [CLINIC]})
    assert _me(api, keycloak.token("leaver"))[0] == 200
    keycloak.revoke(user, "clinic-desk")
    status, problem = _me(api, keycloak.token("leaver"))
    assert status == 403 and "no role" in str(problem["detail"])
