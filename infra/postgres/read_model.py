"""A read model in PostgreSQL: its tables, and its tracking position in the same transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor, sql
from psycopg.abc import Buffer
from psycopg.rows import DictRow
from psycopg.types.json import set_json_dumps
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

from infra.crypto.phi import PhiCipher
from infra.postgres.tables import DDL_LOCK

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TrackedReadModel(PostgresTrackingRecorder):
    name: ClassVar[str]
    DDL: ClassVar[str]  # statements separated by ';', with {s} for the schema
    TABLES: ClassVar[tuple[str, ...]]
    phi: PhiCipher | None = None  # for read models that keep PHI (sealed)
    reads_phi: ClassVar[bool] = False  # whether it needs events with their PHI opened

    def __init__(self, datastore: PostgresDatastore, *, clock: Clock = utc_now,
                 **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.clock = clock
        self.schema = f'"{datastore.schema}"' if datastore.schema else "public"
        for statement in self.DDL.format(s=self.schema).split(";"):
            if statement.strip():
                self.sql_create_statements.append(sql.SQL(statement))  # type: ignore[arg-type]

    def create_table(self) -> None:
        try:
            super().create_table()
        except IntegrityError:  # a process starting beside this one created it first (its
            super().create_table()  # tracking table's first row): the tables exist now

    def _create_table(self, curs: Any) -> None:
        # API workers and projectors start together and create the same tables, indexes
        # and added columns: one process at a time, or PostgreSQL deadlocks them (two
        # AccessExclusiveLocks taken in different orders).
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
        super()._create_table(curs)

    def position(self, application_name: str) -> int | None:
        position: int | None = self.max_tracking_id(application_name)
        return position

    def process(self, events: Sequence[Any], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            storing_any_text(curs)
            self.apply(curs, events, self.clock())
            self._insert_tracking(curs, tracking)

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Time-driven upkeep; none by default."""

    def reset(self) -> None:
        tables = ", ".join(f"{self.schema}.{t}" for t in self.TABLES)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(sql.SQL(f"TRUNCATE {tables}"))
            curs.execute(sql.SQL(f"DELETE FROM {self.schema}.{self.tracking_table_name}"))


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` as PostgreSQL (and UTF-8) can hold it: NUL and lone surrogates become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_json(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_storable_json(value))


class _StorableText(StrDumperUnknown):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(storable(obj))


class _StorableTextBinary(StrBinaryDumper):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(storable(obj))


def storing_any_text(curs: Cursor[Any]) -> None:
    """Events recorded before the domain refused such text (domain/text.py) stay in the log
    forever; a read model stores them with U+FFFD in place of what PostgreSQL cannot hold,
    rather than failing on them at every retry (docs/decisions/0036-poison-events.md)."""
    curs.adapters.register_dumper(str, _StorableText)
    curs.adapters.register_dumper(str, _StorableTextBinary)
    set_json_dumps(_dumps, context=curs)
