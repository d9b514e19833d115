"""Avro single-object encoding of messages, with the schemas in avro/*.avsc.

A value is `C3 01`, the schema's 8-byte CRC-64-AVRO fingerprint (little-endian), then the
Avro binary record: any consumer with the .avsc files decodes it, no registry needed
(https://avro.apache.org/docs/1.12.0/specification/#single-object-encoding).
Headers repeat what a consumer routes or deduplicates on, so it need not decode first.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from projections.messages import Message
from projections.ports import OutboundMessage

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "avro"
MAGIC = b"\xc3\x01"
CONTENT_TYPE = b"application/vnd.apache.avro.single-object"


class UndecodableMessageError(ValueError):
    """Not single-object Avro, or written with a schema this consumer does not know."""


@dataclass(frozen=True)
class Schema:
    name: str  # the record's simple name, e.g. AppointmentBooked
    parsed: dict[str, Any]
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO of the canonical form

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


def load_schema(path: Path) -> Schema:
    parsed = parse_schema(json.loads(path.read_text(encoding="utf-8")))
    assert isinstance(parsed, dict), f"{path}: a record schema"
    canonical = to_parsing_canonical_form(parsed)
    return Schema(name=parsed["name"].rsplit(".", 1)[-1], parsed=parsed,
                  fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")))


class AvroCodec:
    """Every schema in a folder (avro/ by default): encode by name, decode by fingerprint.
    Released earlier versions (avro/released/) decode too, so old messages stay readable."""

    def __init__(self, folder: Path = SCHEMA_DIR) -> None:
        self.current = {s.name: s for s in map(load_schema, sorted(folder.glob("*.avsc")))}
        known = [*self.current.values(),
                 *map(load_schema, sorted((folder / "released").glob("*.avsc")))]
        self.by_fingerprint = {s.fingerprint: s for s in known}

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        schema = self.current[name]
        out = io.BytesIO()
        out.write(MAGIC + schema.fingerprint)
        schemaless_writer(out, schema.parsed, record)
        return out.getvalue()

    def decode(self, value: bytes) -> tuple[str, dict[str, Any]]:
        """(record name, record), read with the current schema of that name."""
        if len(value) < 10 or value[:2] != MAGIC:
            raise UndecodableMessageError("not an Avro single-object encoded message")
        writer = self.by_fingerprint.get(value[2:10])
        if writer is None:
            raise UndecodableMessageError(f"unknown schema fingerprint {value[2:10].hex()}")
        reader = self.current.get(writer.name, writer)
        record = schemaless_reader(io.BytesIO(value[10:]), writer.parsed, reader.parsed)
        assert isinstance(record, dict)
        return writer.name, record

    def outbound(self, message: Message, topic_prefix: str = "") -> OutboundMessage:
        """The message as Kafka will carry it: key, value and headers."""
        schema = self.current[message.name]
        headers = {
            "event_id": str(message.event_id).encode(),
            "event_type": message.name.encode(),
            "schema_fingerprint": schema.fingerprint_hex.encode(),
            "occurred_at": _iso(message.occurred_at).encode(),
            "content-type": CONTENT_TYPE,
        }
        for field in ("traceparent", "tracestate", "request_id"):
            if message.meta.get(field):
                headers[field] = message.meta[field].encode()
        return OutboundMessage(topic=topic_prefix + message.topic, key=str(message.key).encode(),
                               value=self.encode(message.name, message.record),
                               headers=headers)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def header_uuid(headers: dict[str, bytes], name: str) -> UUID:
    return UUID(headers[name].decode())
