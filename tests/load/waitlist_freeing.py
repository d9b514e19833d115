"""Freeing time for the waitlist benchmark: a patient books a slot and cancels it, and the
offer that follows is found by its Opening (the Offered event) and by its email."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from commands.booking import BookingCreate
from commands.context import Actor
from domain.openings import Opening
from infra.postgres.read_models import READ_MODELS
from infra.wiring.container import Container
from tests.load.common import wait_for_followers
from tests.load.waitlist_pipeline import Pipeline, percentiles_ms

_ENTRY = re.compile(r"/waitlist/([0-9a-f-]{36})/offer")


@dataclass
class Freed:
    opening_id: UUID | None
    committed: float  # wall clock, when the cancel returned (just after its commit)
    entry_id: UUID | None = None
    recorded: float | None = None  # the Opening's Offered event's timestamp
    arrived: float | None = None  # the offer email accepted by the SMTP server
    duplicates: int = 0
    error: str | None = None


class Freeing:
    def __init__(self, container: Container, pipe: Pipeline, leaving: Actor,
                 slots: list[UUID], timeout: float) -> None:
        self.container, self.pipe, self.leaving = container, pipe, leaving
        self.slots, self.timeout = list(slots), timeout
        self.seen = 0  # offer emails read so far
        self.emails: dict[UUID, list[float]] = {}  # entry -> arrival of each offer email
        self.freed: list[Freed] = []

    def catch_up(self) -> float:
        """Every follower at the log's head and the notifier quiet: seconds it took."""
        assert self.container.settings.database_url
        followed = wait_for_followers(self.container.settings.database_url, 600,
                                      (*READ_MODELS, "relay"))
        return followed + self.pipe.settle(3.0, 600)

    def free_quietly(self) -> tuple[UUID, UUID]:
        """Book the next slot and cancel it: the Opening's id and the appointment's."""
        bookings = self.container.use_cases.bookings
        booked = bookings.book(BookingCreate(slot_id=self.slots.pop(0)), self.leaving).result
        cancelled = bookings.cancel(booked.id, "", self.leaving)
        return Opening.create_id(booked.id, cancelled.version), booked.id

    def _free(self) -> Freed:
        try:
            opening_id, _ = self.free_quietly()
        except Exception as exc:  # counted as an error of the run
            freed = Freed(None, time.time(), error=f"{type(exc).__name__}: {exc}")
        else:
            freed = Freed(opening_id, time.time())
        self.freed.append(freed)
        return freed

    def one(self) -> Freed:
        """Free one slot and wait for its offer email."""
        freed = self._free()
        self._await([freed])
        return freed

    def burst(self, count: int) -> tuple[dict[str, Any], list[Freed]]:
        """Free `count` slots back to back; wait for every offer email."""
        batch = [self._free() for _ in range(count)]
        self._await(batch)
        arrived = [f for f in batch if f.arrived is not None]
        first = min((f.committed for f in batch), default=0.0)
        last = max((f.arrived for f in arrived if f.arrived), default=first)
        seconds = last - first
        return {"freed": count, "emails": len(arrived),
                "first_commit_to_last_email_s": round(seconds, 2),
                "offer_emails_per_s": round(len(arrived) / seconds, 2) if seconds else None,
                "cancel_commit_to_offer_email": percentiles_ms(
                    [f.arrived - f.committed for f in arrived if f.arrived])}, batch

    def duplicates(self) -> int:
        """Offer emails beyond the first for any entry offered in this run."""
        self._read_inbox()
        for freed in self.freed:
            if freed.entry_id is not None:
                freed.duplicates = len(self.emails.get(freed.entry_id, [])) - 1
        return sum(max(0, f.duplicates) for f in self.freed)

    def errors(self) -> dict[str, Any]:
        """Every freed slot's outcome (the warm-up's too): a failed booking or cancellation,
        no offer email in time, an offer emailed twice."""
        duplicates = self.duplicates()
        failed = sum(f.error is not None for f in self.freed)
        missing = sum(f.error is None and f.arrived is None for f in self.freed)
        return {"freed": len(self.freed), "failed": failed, "no_email": missing,
                "duplicate_emails": duplicates,
                "first_errors": [f.error for f in self.freed if f.error][:3],
                "error_rate": round((failed + missing + duplicates) / max(1, len(self.freed)),
                                    4)}

    def _await(self, batch: list[Freed]) -> None:
        pending = [f for f in batch if f.error is None]
        deadline, checked = time.monotonic() + self.timeout, time.monotonic()
        while pending and time.monotonic() < deadline:
            if self._read_inbox():
                for freed in pending:
                    self._resolve(freed)
                pending = [f for f in pending if f.arrived is None]
            if time.monotonic() - checked > 1.0:
                self.pipe.check_alive()
                checked = time.monotonic()
            time.sleep(0.005)

    def _read_inbox(self) -> bool:
        offers = self.pipe.offers()
        for arrived, received in offers[self.seen:]:
            body = received.message.get_body(preferencelist=("plain",))
            found = _ENTRY.search(body.get_content() if body is not None else "")
            if found:
                self.emails.setdefault(UUID(found.group(1)), []).append(arrived)
        new = len(offers) > self.seen
        self.seen = len(offers)
        return new

    def _resolve(self, freed: Freed) -> None:
        """The entry the Opening offered its time to, and, once its email came, the times."""
        assert freed.opening_id is not None
        if freed.entry_id is None:
            opening = self.container.app.find(Opening, freed.opening_id)
            freed.entry_id = opening.offer_entry if opening is not None else None
        if freed.entry_id is None or freed.entry_id not in self.emails:
            return
        freed.arrived = self.emails[freed.entry_id][0]
        for event in self.container.app.repository.event_store.get(freed.opening_id):
            if isinstance(event, Opening.Offered):
                freed.recorded = event.timestamp.timestamp()
                break


def timings(freed: list[Freed]) -> dict[str, Any]:
    """Commit -> offer recorded, commit -> email arrived, recorded -> arrived."""
    done = [(f.committed, f.recorded, f.arrived) for f in freed
            if f.recorded is not None and f.arrived is not None]
    return {"cancel_commit_to_offer_recorded": percentiles_ms([r - c for c, r, _ in done]),
            "cancel_commit_to_offer_email": percentiles_ms([a - c for c, _, a in done]),
            "offer_recorded_to_email": percentiles_ms([a - r for _, r, a in done])}
