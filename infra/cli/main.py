"""`clinic`: one command for operators, developers and tests."""

from __future__ import annotations

import argparse
import os
import sys

from infra.cli import (
    analytics,
    audit,
    ingest,
    keys,
    mailbox,
    messaging,
    migrate,
    projections,
    retention,
    serve,
    token,
)
from infra.cli.errors import CliError
from infra.observability.logging import configure_logging

COMMANDS = (serve, audit, projections, messaging, retention, ingest, keys, mailbox, token,
            migrate, analytics)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinic",
        description="Virtual clinic booking engine. With no CLINIC_DATABASE_URL / "
        "CLINIC_REDIS_URL set, embedded PostgreSQL and Redis start under CLINIC_DATA_DIR "
        "(default ./.clinic-data); without CLINIC_KAFKA_BOOTSTRAP, messages go to a local sink.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # JSON logs on stderr from every command, also those that never load settings; the
    # others configure again with their settings' level.
    configure_logging(os.environ.get("CLINIC_LOG_LEVEL", "INFO"))
    try:
        result: int = args.handler(args)
    except CliError as exc:
        print(f"clinic: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
