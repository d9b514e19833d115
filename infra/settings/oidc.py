"""Staff sign-in through the clinic network's OpenID Connect provider (unset: only tokens
from `clinic token issue`). docs/deployment.md shows Keycloak, Entra ID and Okta."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class OidcSettings(BaseSettings):
    # The issuer URL exactly as its tokens' `iss` says (its discovery document lives under it).
    oidc_issuer: str | None = None
    # The `aud` a token must name: this API, as registered at the provider.
    oidc_audience: str = "clinic-api"
    # The public client the web UI signs staff in with (authorization code with PKCE); its
    # redirect URI at the provider: <the app's address>/staff/oidc/callback.
    oidc_web_client_id: str = "clinic-web"
    # A dotted path to the list of the person's role names (Keycloak: realm_access.roles;
    # Entra ID: roles; Okta: a custom claim such as groups).
    oidc_roles_claim: str = "realm_access.roles"
    # The provider's role names to ours: "clinic-desk=front_desk,clinic-ops=admin"; empty:
    # our own names (front_desk, provider, compliance, analyst, admin) as they are.
    oidc_role_map: str = ""
    # The claim listing the clinic ids a staff member works for (docs/access.md).
    oidc_clinics_claim: str = "clinics"
    # A provider's id in our directory (providers act as themselves).
    oidc_provider_claim: str = "provider_id"
    # Clock skew tolerated on exp / iat / nbf.
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # A token naming a signing key not yet seen makes the key set be fetched again, at most
    # once per this many seconds (a rotated key is accepted within it).
    oidc_key_refresh_cooldown_seconds: float = Field(default=30, ge=0, le=3600)
