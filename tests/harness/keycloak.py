"""A real Keycloak (Maven Central's keycloak-quarkus-dist), started in development mode with an
in-memory database, and a `clinic` realm made through its admin REST API: the identity
provider the staff sign-in tests talk to. The zip is cached in ~/.cache/clinic/keycloak."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from infra.embedded.process import free_port

VERSION = "26.7.3"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clinic" / "keycloak"
REALM = "clinic"
AUDIENCE = "clinic-api"
PASSWORD = "correct horse battery staple"


def install() -> Path:
    """Keycloak's folder, downloaded (mvn) and unpacked once."""
    home = CACHE / f"keycloak-{VERSION}"
    if (home / "bin" / "kc.sh").exists():
        return home
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"keycloak-quarkus-dist-{VERSION}.zip"
    if not archive.exists():
        subprocess.run(["mvn", "-q", "dependency:copy",
                        f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{VERSION}:zip",
                        f"-DoutputDirectory={CACHE}"], check=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(CACHE)
    for script in (home / "bin").glob("*.sh"):
        script.chmod(0o755)
    return home


class Keycloak:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.base}/realms/{REALM}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Keycloak:
        home = install()
        env = {**os.environ, "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
               "KC_BOOTSTRAP_ADMIN_PASSWORD": "admin", "JAVA_OPTS_APPEND": "-Xms64m -Xmx512m"}
        self.log = (self.folder / "keycloak.log").open("wb")
        self.process = subprocess.Popen(
            [str(home / "bin" / "kc.sh"), "start-dev", "--db=dev-mem", "--http-host=127.0.0.1",
             f"--http-port={self.port}", "--health-enabled=false"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Keycloak exited; see {self.folder / 'keycloak.log'}")
            try:
                if httpx.get(f"{self.base}/realms/master", timeout=2).status_code == 200:
                    self._make_realm()
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError("Keycloak did not start within 180 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()

    # Administration --------------------------------------------------------------------
    def _admin(self) -> dict[str, str]:
        token = httpx.post(f"{self.base}/realms/master/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "admin-cli", "username": "admin",
            "password": "admin"}, timeout=10).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = httpx.request(method, f"{self.base}/admin/realms{path}",
                               headers=self._admin(), timeout=30, **kwargs)
        answer.raise_for_status()
        return answer

    def _make_realm(self) -> None:
        mapper = "oidc-usermodel-attribute-mapper"
        self._call("POST", "", json={
            "realm": REALM, "enabled": True, "accessTokenLifespan": 300,
            "roles": {"realm": [{"name": n} for n in ("clinic-desk", "clinic-ops", "doctor")]},
            "clients": [
                # The web UI's public client: the browser's authorization code flow with
                # PKCE (any local redirect: the tests' ports are random), and the password
                # grant the API tests use.
                {"clientId": "clinic-web", "publicClient": True, "standardFlowEnabled": True,
                 "redirectUris": ["http://127.0.0.1:*"],
                 "attributes": {"pkce.code.challenge.method": "S256"},
                 "directAccessGrantsEnabled": True, "protocolMappers": [
                     {"name": "audience", "protocol": "openid-connect",
                      "protocolMapper": "oidc-audience-mapper",
                      "config": {"included.custom.audience": AUDIENCE,
                                 "access.token.claim": "true", "id.token.claim": "false"}},
                     *({"name": claim, "protocol": "openid-connect", "protocolMapper": mapper,
                        "config": {"user.attribute": claim, "claim.name": claim,
                                   "jsonType.label": "String", "multivalued": many,
                                   "access.token.claim": "true", "id.token.claim": "false"}}
                       for claim, many in (("clinics", "true"), ("provider_id", "false")))]},
                # Another application of the same realm: its tokens are not for this API.
                {"clientId": "other-app", "publicClient": True, "standardFlowEnabled": False,
                 "directAccessGrantsEnabled": True}]})
        profile = self._call("GET", f"/{REALM}/users/profile").json()
        self._call("PUT", f"/{REALM}/users/profile",
                   json={**profile, "unmanagedAttributePolicy": "ENABLED"})

    def add_user(self, username: str, role: str, attributes: dict[str, list[str]]) -> str:
        created = self._call("POST", f"/{REALM}/users", json={
            "username": username, "enabled": True, "email": f"{username}@example.org",
            "emailVerified": True, "firstName": username.title(), "lastName": "Staff",
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
            "attributes": attributes})
        user_id = created.headers["location"].rsplit("/", 1)[1]
        self.grant(user_id, role)
        return user_id

    def _role(self, role: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/{REALM}/roles/{role}").json())

    def grant(self, user_id: str, role: str) -> None:
        self._call("POST", f"/{REALM}/users/{user_id}/role-mappings/realm",
                   json=[self._role(role)])

    def revoke(self, user_id: str, role: str) -> None:
        self._call("DELETE", f"/{REALM}/users/{user_id}/role-mappings/realm",
                   json=[self._role(role)])

    def set_token_lifespan(self, seconds: int) -> None:
        self._call("PUT", f"/{REALM}", json={"accessTokenLifespan": seconds})

    def rotate_keys(self) -> None:
        """A new RSA key signs from now on; the old one is removed (a compromised key)."""
        realm_id = self._call("GET", f"/{REALM}").json()["id"]
        old = [c for c in self._call("GET", f"/{REALM}/components",
                                     params={"type": "org.keycloak.keys.KeyProvider"}).json()
               if c["providerId"] == "rsa-generated"]
        self._call("POST", f"/{REALM}/components", json={
            "name": "rsa-rotated", "providerId": "rsa-generated", "parentId": realm_id,
            "providerType": "org.keycloak.keys.KeyProvider",
            "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"]}})
        for component in old:
            self._call("DELETE", f"/{REALM}/components/{component['id']}")

    def token(self, username: str, client: str = "clinic-web") -> str:
        answer = httpx.post(f"{self.issuer}/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": client, "username": username,
            "password": PASSWORD, "scope": "openid"}, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["access_token"])


@contextmanager
def keycloak_server(folder: Path) -> Iterator[Keycloak]:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        raise RuntimeError("Keycloak needs Java 17+ and Maven")
    server = Keycloak(folder)
    try:
        yield server.start()
    finally:
        server.stop()
