"""Pulling configured partners: one run of the ingestion use case over a partner's pages
(the CLI, `POST /ingest/runs?partner=`), and the scheduled pulls of `clinic ingest --watch`,
one active puller across processes (the advisory-lock pattern of the log followers)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import structlog

from commands.context import Actor
from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import DIRECTORY, Kind
from commands.ingest.run import Ingestion, IngestReport, IngestRequest, Mode, Progress
from domain.errors import NotFoundError
from infra.ingest.partner_source import Sleep, partner_client, partner_rows
from infra.settings import Settings
from infra.wiring.followers import Stopped, exclusive

log = structlog.get_logger("clinic.ingest")
PARTNER = "partner:"
PULLER = "ingest-pulls"  # the advisory lock's name
SCHEDULER = "scheduler:ingest"  # who starts a scheduled pull (ingest_runs.started_by)


class UnknownPartnerError(NotFoundError):
    code = "unknown-partner"


def pull_partner(ingestion: Ingestion, settings: Settings, name: str, starter: Actor, *,
                 kinds: tuple[Kind, ...] = DIRECTORY, mode: Mode | None = None,
                 dry_run: bool = False, all_or_nothing: bool = False,
                 source: str | None = None, progress: Progress | None = None,
                 sleep: Sleep = time.sleep) -> IngestReport:
    """One run over a configured partner's pages (its own `mode` unless one is given)."""
    partner = settings.ingest_partners.get(name)
    if partner is None:
        raise UnknownPartnerError(
            f"no partner {name!r} in CLINIC_INGEST_PARTNERS (configured: "
            f"{', '.join(sorted(settings.ingest_partners)) or 'none'})")
    request = IngestRequest(source=source or f"{PARTNER}{name}", kinds=kinds,
                            mode=mode or Mode(partner.mode), dry_run=dry_run,
                            all_or_nothing=all_or_nothing)
    with partner_client(partner) as client:
        return ingestion.run(request, partner_rows(name, partner, kinds, client, sleep),
                             starter, progress)


def watch(ingestion: Ingestion, settings: Settings, stopping: threading.Event) -> None:
    """Pull every configured partner every `every_minutes`, until `stopping`. A second
    watcher (another process or machine) waits on the lock and takes over if this one
    dies. A failed pull is recorded as a failed run and tried again at its next turn."""
    due = dict.fromkeys(settings.ingest_partners, 0.0)
    if not due:
        log.warning("no partners configured (CLINIC_INGEST_PARTNERS): nothing to pull")
    while not stopping.is_set():
        try:
            with exclusive(settings, PULLER, wait=True, stopping=stopping.is_set) as lock:
                _pull_when_due(ingestion, settings, due, stopping, lock)
        except Stopped:  # asked to stop while another watcher held the lock
            return
        except psycopg.Error as exc:  # the database went away: wait, then take turns again
            log.warning("ingestion watcher lost the database", error=type(exc).__name__)
            stopping.wait(5.0)


def _waiting_on(stopping: threading.Event) -> Sleep:
    """A retry's wait that a stop cuts short (SIGTERM never waits out a partner's backoff)."""

    def wait(seconds: float) -> None:
        stopping.wait(seconds)

    return wait


def _pull_when_due(ingestion: Ingestion, settings: Settings, due: dict[str, float],
                   stopping: threading.Event, lock: exclusive) -> None:
    """Each partner when its turn comes (the most overdue first), while the lock is still
    ours; then sleep until the next. One partner's failure, whatever it is, is logged (the
    run recorded as failed where it started) and never stops the others."""
    while not stopping.is_set():
        for name in sorted(due, key=due.__getitem__):
            if due[name] > time.monotonic() or stopping.is_set():
                continue
            if not lock.held():
                log.warning("ingestion watcher lost its lock; taking turns again")
                return
            starter = Actor(subject=SCHEDULER, system=True,
                            request_id=f"scheduled-{uuid.uuid4()}")
            try:
                report = pull_partner(ingestion, settings, name, starter,
                                      sleep=_waiting_on(stopping))
                log.info("scheduled pull", partner=name, run_id=str(report.run.run_id),
                         applied=report.run.applied, rejected=report.run.rejected)
            except IngestSourceError as exc:
                log.warning("scheduled pull failed", partner=name, error=exc.detail,
                            run_id=str(exc.run_id))
            except Exception:
                log.exception("scheduled pull failed", partner=name)
            due[name] = time.monotonic() + settings.ingest_partners[name].every_minutes * 60
        stopping.wait(max(0.0, min(due.values(), default=60.0) - time.monotonic())
                      if due else 60.0)
