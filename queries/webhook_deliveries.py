"""The webhook delivery log as the dispatcher records it (infra/postgres/webhook_deliveries.py):
deliveries newest first, filtered by status and subscription, each with its attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from queries.db import ReadPool, fetch_all


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead = "dead"
    cancelled = "cancelled"


class AttemptPublic(BaseModel):
    attempt: int
    attempted_at: datetime
    http_status: int | None  # None: no answer (timeout, refused, TLS)
    error: str
    excerpt: str  # the answer's first 200 characters at most
    duration_ms: int


class DeliveryPublic(BaseModel):
    delivery_id: UUID
    message_id: UUID  # the `webhook-id` header: the same on every attempt
    webhook_id: UUID
    message_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    last_status: int | None
    last_error: str
    requeued_by: str | None
    attempt_log: list[AttemptPublic]


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryPublic]
    next_before: datetime | None  # pass as `before` for older deliveries


_DELIVERIES = """SELECT delivery_id, message_id, subscription_id AS webhook_id, message_type,
    status, attempts, next_attempt_at, created_at, finished_at, last_status, last_error,
    requeued_by FROM webhook_deliveries
    WHERE (%(s)s::text IS NULL OR status = %(s)s)
      AND (%(w)s::uuid IS NULL OR subscription_id = %(w)s)
      AND (%(b)s::timestamptz IS NULL OR created_at < %(b)s)
    ORDER BY created_at DESC, delivery_id LIMIT %(n)s"""
_ATTEMPTS = """SELECT delivery_id, attempt, attempted_at, http_status, error, excerpt,
    duration_ms FROM webhook_attempts WHERE delivery_id = ANY(%s) ORDER BY attempt"""


async def list_deliveries(pool: ReadPool, status: DeliveryStatus | None, webhook_id: UUID | None,
                          before: datetime | None, limit: int) -> DeliveryPage:
    rows = await fetch_all(pool, _DELIVERIES, {"s": status.value if status else None,
                                               "w": webhook_id, "b": before, "n": limit})
    attempts: dict[UUID, list[AttemptPublic]] = {row["delivery_id"]: [] for row in rows}
    if rows:
        for attempt in await fetch_all(pool, _ATTEMPTS, (list(attempts),)):
            attempts[attempt.pop("delivery_id")].append(AttemptPublic(**attempt))
    deliveries = [DeliveryPublic(**row, attempt_log=attempts[row["delivery_id"]])
                  for row in rows]
    return DeliveryPage(deliveries=deliveries,
                        next_before=deliveries[-1].created_at if len(rows) == limit else None)
