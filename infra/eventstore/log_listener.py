"""Wake log followers when the event log grows: PostgreSQL LISTEN on the channel that
eventsourcing NOTIFYs with every insert (docs/decisions/0024-log-followers-wake-on-notify.md)."""

from __future__ import annotations

import threading

import structlog
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

log = structlog.get_logger("clinic.log_listener")


class EventLogListener:
    """Rings on the NOTIFY eventsourcing sends with every write to the event table, so log
    followers sleep until there is news instead of polling (projections/ports.LogListener).
    One listening connection per follower; it rings once more after every (re)connect, in
    case something was recorded while nobody listened."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        assert isinstance(recorder, PostgresApplicationRecorder), "needs the PostgreSQL store"
        self._recorder = recorder
        self._rings = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True,
                                        name=f"log-listener-{recorder.channel_name}")
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
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._recorder.channel_name))
        while not self._stopping.is_set():
            try:
                with self._recorder.datastore.get_connection() as conn:
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
