"""The open slots an import's hours give, as one week's pattern, for the golden runs: what the
slot-search read model holds once projected, and what the imported hours promise."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from infra.wiring.container import Container

# provider, clinic, service, modality, weekday (Monday 0), local start, local end
SlotShape = tuple[UUID, UUID, UUID, str, int, time, time]


def projected_week(container: Container) -> set[SlotShape]:
    """Every open slot in the slot-search read model, folded onto its weekday."""
    with container.pool.connection() as conn:
        rows: list[Any] = list(conn.execute(
            "SELECT provider_id, clinic_id, service_id, modality, local_start, local_end "
            "FROM open_slots WHERE status = 'open'"))
    return {(p, c, s, m, start.weekday(), start.time(), end.time())
            for p, c, s, m, start, end in rows}


def back_to_back(provider: UUID, clinic: UUID, service: UUID, modality: str, minutes: int,
                 week: dict[int, list[tuple[str, str]]]) -> set[SlotShape]:
    """Visits of `minutes` one after another (no buffers) filling each weekday's ranges."""
    shapes: set[SlotShape] = set()
    for weekday, ranges in week.items():
        for first, last in ranges:
            start = datetime.combine(datetime.min, time.fromisoformat(first))
            end = datetime.combine(datetime.min, time.fromisoformat(last))
            while start + timedelta(minutes=minutes) <= end:
                after = start + timedelta(minutes=minutes)
                shapes.add((provider, clinic, service, modality, weekday, start.time(),
                            after.time()))
                start = after
    return shapes
