"""`clinic token issue`: bearer tokens for operators and tests."""

from __future__ import annotations

import argparse
from uuid import UUID

from domain.access import Role
from infra.auth.tokens import DEFAULT_TTL_SECONDS, TokenService
from infra.cli.errors import CliError, load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="issue bearer tokens")
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser(
        "issue",
        help="print a signed JWT for a role and subject",
        description="Print a JWT signed with CLINIC_JWT_SECRET. Example: "
        "clinic token issue --role admin --subject ops@clinic --ttl 3600",
    )
    issue.add_argument("--role", required=True, choices=[r.value for r in Role])
    issue.add_argument("--subject", required=True, help="who the token speaks for (an id)")
    issue.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS,
                       help=f"lifetime in seconds (default {DEFAULT_TTL_SECONDS})")
    issue.add_argument("--clinic", action="append", type=UUID, dest="clinics",
                       metavar="CLINIC_ID", help="a clinic the staff member works for "
                       "(repeat for several); front desk reach only their clinics' patients")
    issue.set_defaults(handler=issue_token)


def issue_token(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        service = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
        print(service.issue(Role(args.role), args.subject, args.ttl, clinics=args.clinics))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0
