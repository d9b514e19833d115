"""Local stand-in for Kafka on the embedded default: one JSON line per message.

Values and header values are base64 so that any bytes survive; `read_back` decodes.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from projections.ports import OutboundMessage


class LocalSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def publish(self, messages: Sequence[OutboundMessage]) -> None:
        lines = "".join(json.dumps(_encode(m), separators=(",", ":")) + "\n" for m in messages)
        with self.path.open("a", encoding="utf-8") as sink:
            fcntl.flock(sink, fcntl.LOCK_EX)
            sink.write(lines)
            sink.flush()
            os.fsync(sink.fileno())

    def read_back(self, limit: int = 100) -> list[OutboundMessage]:
        """The last `limit` messages, oldest first."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as sink:
            lines = sink.readlines()[-limit:] if limit > 0 else []
        return [_decode(json.loads(line)) for line in lines if line.strip()]

    @staticmethod
    def decode_line(line: bytes) -> OutboundMessage | None:
        """One line of the sink file (None for a blank one)."""
        return _decode(json.loads(line)) if line.strip() else None

    def ready(self) -> bool:
        return os.access(self.path.parent, os.W_OK)

    def close(self) -> None:
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(message: OutboundMessage) -> dict[str, object]:
    return {
        "topic": message.topic,
        "key": _b64(message.key),
        "value": _b64(message.value),
        "headers": {k: _b64(v) for k, v in message.headers.items()},
    }


def _decode(row: dict[str, object]) -> OutboundMessage:
    headers = row["headers"]
    assert isinstance(headers, dict)
    return OutboundMessage(
        topic=str(row["topic"]),
        key=base64.b64decode(str(row["key"])),
        value=base64.b64decode(str(row["value"])),
        headers={str(k): base64.b64decode(str(v)) for k, v in headers.items()},
    )
