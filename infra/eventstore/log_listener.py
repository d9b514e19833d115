"""Wake log followers when the event log grows: PostgreSQL LISTEN on the channel that
eventsourcing NOTIFYs with every insert (docs/decisions/0024-log-followers-wake-on-notify.md);
and, the same way, the offer matcher when the waitlist read model records freed time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

log = structlog.get_logger("clinic.log_listener")


class ChannelListener:
    """Rings on every NOTIFY of one PostgreSQL channel (projections/ports.LogListener), so a
    follower sleeps until there is news instead of polling. One listening connection; it rings
    once more after every (re)connect, in case something happened while nobody listened."""

    def __init__(self, connect: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
                 channel: str) -> None:
        self._connect, self._channel = connect, channel
        self._rings = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True,
                                        name=f"listener-{channel}")
        self._thread.start()

    def rings(self) -> int:
        with self._changed:
            return self._rings

    def wait(self, after: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._rings > after, timeout)

    def _ring(self) -> None:
        with self._changed:
            self._rings += 1
            self._changed.notify_all()

    def _listen(self) -> None:
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(listen)
                    self._ring()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._ring()
            except Exception:  # the followers fall back to re-checking every second
                log.warning("event log listener lost its connection; reconnecting",
                            exc_info=True)
                self._stopping.wait(1.0)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)


class EventLogListener(ChannelListener):
    """Rings on the NOTIFY eventsourcing sends with every write to the event table."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        assert isinstance(recorder, PostgresApplicationRecorder), "needs the PostgreSQL store"
        super().__init__(recorder.datastore.get_connection, recorder.channel_name)
