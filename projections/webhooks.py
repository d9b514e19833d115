"""What a webhook delivers: which Kafka messages are for webhooks, and the JSON body a
partner receives for one: the message's own PHI-free record (avro/<type>.avsc), its type and
its stable id (the event id, the same on every retry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.webhooks import WebhookEvent
from projections.messages import APPOINTMENTS_TOPIC

WEBHOOK_TOPICS = (APPOINTMENTS_TOPIC,)
WEBHOOK_TYPES = frozenset(e.value for e in WebhookEvent)


def body_of(message_type: str, message_id: UUID, occurred_at: datetime,
            record: dict[str, Any]) -> bytes:
    """`{"type", "id", "timestamp", "data"}` (Standard Webhooks' payload shape), compact
    JSON: these exact bytes are signed and sent on every attempt."""
    document = {"type": message_type, "id": str(message_id),
                "timestamp": _instant(occurred_at),
                "data": {k: _plain(v) for k, v in record.items()}}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, UUID):
        return str(value)
    return value


def _instant(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
