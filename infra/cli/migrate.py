"""`clinic migrate`: create or bring up to date the database schema, then exit.

Every process creates what it uses on start (idempotent DDL under one advisory lock), so this
is not required; a deployment runs it once before the processes start (the Helm chart's
schema Job, Compose's `migrate` service): the API replicas then start on ready tables, and a
wrong PHI key-encryption key fails one Job instead of every pod.
"""

from __future__ import annotations

import argparse

from infra.cli.errors import CliError, load_settings
from infra.crypto.kek import KeyEncryptionKeyError
from infra.eventstore.application import build_application
from infra.observability.logging import configure_logging
from infra.postgres.read_models import create_read_model_tables
from infra.wiring.servers import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "migrate", help="create the database schema (event store, data keys, read models), "
        "check the PHI key, exit",
        description="Idempotent: safe to run again and while other processes run. Creates "
        "CLINIC_DB_SCHEMA, the event store's tables, the PHI data keys' table and every read "
        "model's tables, and checks CLINIC_PHI_KEK against the stored data keys.",
    )
    cmd.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    with Runtime(settings) as resolved:
        assert resolved.database_url
        try:
            app = build_application(resolved)  # schema, event store, data keys; checks the KEK
        except KeyEncryptionKeyError as exc:
            raise CliError(str(exc)) from None
        try:
            create_read_model_tables(resolved.database_url, resolved.db_schema)
        finally:
            app.close()
    print(f"schema {resolved.db_schema}: ready")
    return 0
