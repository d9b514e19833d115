"""The access audit stream: every read of PHI and every denied request, append-only.

Commands are audited by the event log itself (each event's `__meta__`); this table holds
what the event log cannot: reads and refusals. A trigger refuses UPDATE and TRUNCATE, and
DELETE of rows younger than the six years HIPAA asks documentation to be kept. Rows carry
ids, never PHI (docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import asdict, fields

from psycopg import sql
from psycopg_pool import ConnectionPool

from commands.ports import AuditEntry
from infra.postgres.tables import run_ddl

KEEP = "6 years"
DDL = """
CREATE TABLE IF NOT EXISTS {s}.audit_events (
    audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor text NOT NULL, role text NOT NULL, action text NOT NULL, resource text NOT NULL,
    patient_id uuid, record_id text, purpose text NOT NULL, outcome text NOT NULL,
    status int NOT NULL, detail text NOT NULL DEFAULT '', request_id text NOT NULL,
    client text NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_events_by_patient ON {s}.audit_events (patient_id, audit_id);
CREATE INDEX IF NOT EXISTS audit_events_by_actor ON {s}.audit_events (actor, audit_id);
CREATE INDEX IF NOT EXISTS audit_events_by_time ON {s}.audit_events (recorded_at);
CREATE INDEX IF NOT EXISTS audit_events_by_patient_time
    ON {s}.audit_events (patient_id, recorded_at, audit_id);
CREATE INDEX IF NOT EXISTS audit_events_by_record_time
    ON {s}.audit_events (record_id, recorded_at, audit_id);
CREATE INDEX IF NOT EXISTS audit_events_by_actor_time
    ON {s}.audit_events (actor, recorded_at, audit_id);
CREATE OR REPLACE FUNCTION {s}.audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.recorded_at < now() - interval '{keep}' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE
    ON {s}.audit_events FOR EACH ROW EXECUTE FUNCTION {s}.audit_events_append_only();
CREATE OR REPLACE TRIGGER audit_events_no_truncate BEFORE TRUNCATE
    ON {s}.audit_events FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_events_append_only()
"""


class AuditTrail:
    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        columns = [f.name for f in fields(AuditEntry)]
        self.insert = sql.SQL("INSERT INTO {}.audit_events ({}) VALUES ({})").format(
            sql.Identifier(schema), sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(map(sql.Placeholder, columns)))
        with pool.connection() as conn:
            run_ddl(conn, DDL.replace("{keep}", KEEP).replace("{s}", f'"{schema}"'))

    def record(self, *entries: AuditEntry) -> None:
        """Append entries (one transaction). Raises if they cannot be stored: a PHI read
        that cannot be audited must not happen."""
        if entries:
            with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(self.insert, [asdict(entry) for entry in entries])
