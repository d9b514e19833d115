"""The CLI's one error type, and settings loaded the way every command needs them."""

from __future__ import annotations

from pydantic import ValidationError

from infra.settings import Settings


class CliError(Exception):
    """Printed as `clinic: <message>` with exit status 2; never a traceback."""


def load_settings() -> Settings:
    """Settings from CLINIC_* variables, or a CliError naming each bad one — without echoing
    values (they may be secrets)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False))
        raise CliError(f"configuration: {problems}") from None
