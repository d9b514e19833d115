"""Reading a real Kafka topic the way an outside consumer would: a fresh consumer group from
the earliest offset, and values decoded with nothing but the .avsc files and fastavro (the
single-object framing of docs/messaging.md), so a test never checks the codec with itself."""

from __future__ import annotations

import io
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message
from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form

AVRO = Path(__file__).resolve().parents[2] / "avro"
SINGLE_OBJECT_MARKER = b"\xc3\x01"


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0
               ) -> list[Message]:
    """The topic's first `expected` messages (fewer if they did not come within `timeout`)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    received: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(received) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                received.append(message)
    finally:
        consumer.close()
    return received


@cache
def _schemas_by_fingerprint() -> dict[bytes, tuple[str, Any]]:
    schemas = {}
    for path in AVRO.glob("*.avsc"):
        schema = parse_schema(json.loads(path.read_text()))
        digest = fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
        # fastavro gives the fingerprint's bytes in little-endian order, as the framing has them
        # (the Avro spec's "null" vector 0x63dd24e7cc258f8a comes out as 8a8f25cce724dd63).
        schemas[bytes.fromhex(digest)] = (path.stem, schema)
    return schemas


def decode_with_only_the_avsc(value: bytes) -> tuple[str, dict[str, Any]]:
    """The record name and the decoded record: what any consumer can do with the .avsc."""
    assert value[:2] == SINGLE_OBJECT_MARKER, "not Avro single-object encoding"
    name, schema = _schemas_by_fingerprint()[value[2:10]]
    record: dict[str, Any] = schemaless_reader(io.BytesIO(value[10:]), schema)  # type: ignore[assignment]
    return name, record


def headers_of(message: Message) -> dict[str, bytes]:
    pairs: list[tuple[str, bytes | None]] = list(message.headers() or [])  # type: ignore[arg-type]
    return {key: value or b"" for key, value in pairs}
