"""Bearer tokens: issuing and verifying JWTs that carry a role and its scopes."""
