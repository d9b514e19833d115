"""An analyst's PostgreSQL login: SELECT on the analytics schema's v1 views and nothing else.

The views run with their owner's rights (PostgreSQL's default), so the login needs no right
on the tables beneath them, nor on any other schema: the event store, the PHI data keys, the
API's read models and the patient-key map stay out of its reach (docs/decisions/0059).
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from infra.postgres.analytics import VIEWS, analytics_schema

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AnalystRoleError(Exception):
    """The role cannot be made an analyst login (a bad name, or an existing powerful role)."""


def grant_analyst(database_url: str, schema: str, role: str, password: str) -> None:
    """Create the login (or set its password again) and grant it the v1 views: idempotent."""
    if not ROLE_NAME.match(role):
        raise AnalystRoleError("a role name is lower-case letters, digits and _ (at most 63)")
    if not password:
        raise AnalystRoleError("the password is empty")
    analytics = sql.Identifier(analytics_schema(schema))
    name = sql.Identifier(role)
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        found = conn.execute(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls "
            "OR rolname = current_user FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if found is not None and found[0]:
            raise AnalystRoleError(f"{role} is a privileged role or the clinic's own; "
                                   "choose another name")
        verb = "ALTER" if found is not None else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                             "NOINHERIT NOREPLICATION PASSWORD {}").format(
            name, sql.Literal(password)))
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database[0]), name))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(analytics, name))
        views = sql.SQL(", ").join(sql.Identifier(analytics_schema(schema), v) for v in VIEWS)
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(views, name))
