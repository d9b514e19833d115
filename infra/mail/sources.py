"""Where the notifier's messages come from: a Kafka consumer group, or the local sink."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog
from confluent_kafka import Consumer, KafkaError, Message

from infra.messaging.sink import LocalSink
from infra.messaging.tracing import LOCAL_SINK
from projections.messages import DEAD_LETTER_TOPIC


@dataclass(frozen=True)
class Incoming:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class Source(Protocol):
    def poll(self, timeout: float) -> list[tuple[Incoming, Any]]:
        """Messages in order, each with the token to acknowledge it by."""

    def ack(self, token: Any) -> None: ...
    def close(self) -> None: ...


log = structlog.get_logger("clinic.notify")


class KafkaSource:
    """At least once: an offset is stored only once its message was handled (ack), and
    committed in the background; what was handled but not yet committed comes again after a
    crash, and the delivery log drops it."""

    system = "kafka"  # messaging.system of the notifier's spans

    def __init__(self, client: Mapping[str, Any], group: str, topics: list[str]) -> None:
        self.consumer = Consumer({
            **client, "group.id": group, "enable.auto.commit": True,
            "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
            "auto.commit.interval.ms": 1000, "topic.metadata.refresh.interval.ms": 10000})
        self.consumer.subscribe(topics)

    def poll(self, timeout: float) -> list[tuple[Incoming, Any]]:
        message: Message | None = self.consumer.poll(timeout)
        if message is None:
            return []
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", error=str(error))
            return []
        pairs: list[tuple[str, Any]] = list(message.headers() or [])  # type: ignore[arg-type]
        headers = {k: v if isinstance(v, bytes) else (v or "").encode() for k, v in pairs}
        incoming = Incoming(topic=message.topic() or "", key=message.key(),
                            value=message.value() or b"", headers=headers)
        return [(incoming, message)]

    def ack(self, token: Any) -> None:
        self.consumer.store_offsets(message=token)

    def close(self) -> None:
        self.consumer.close()  # commits what was stored


SINK_POLL_SECONDS = 0.05  # how often an idle reader looks at the sink file's size


class SinkSource:
    """Development without Kafka: follow the local sink file, remembering the byte offset
    reached in a file beside it (one per reader: `reader` names it)."""

    system = LOCAL_SINK

    def __init__(self, sink: LocalSink, reader: str = "notify") -> None:
        self.path = sink.path
        self.offset_file = sink.path.with_suffix(f".{reader}-offset")
        self.offset = int(self.offset_file.read_text()) if self.offset_file.exists() else 0

    def poll(self, timeout: float) -> list[tuple[Incoming, Any]]:
        """What the sink holds beyond the offset, waiting up to `timeout` for something new
        as Kafka's poll does (a reader that polls in a loop must not spin on an idle file)."""
        deadline = time.monotonic() + timeout
        while not self._grown() and time.monotonic() < deadline:
            time.sleep(min(SINK_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        return self._read() if self._grown() else []

    def _grown(self) -> bool:
        try:
            return self.path.stat().st_size > self.offset
        except FileNotFoundError:
            return False

    def _read(self) -> list[tuple[Incoming, Any]]:
        batch: list[tuple[Incoming, Any]] = []
        with self.path.open("rb") as sink:
            sink.seek(self.offset)
            for line in sink:
                if not line.endswith(b"\n"):
                    break  # a line still being written
                end = sink.tell()
                message = LocalSink.decode_line(line)
                if message is not None and not message.topic.endswith(DEAD_LETTER_TOPIC):
                    batch.append((Incoming(message.topic, message.key, message.value,
                                           message.headers), end))
                else:
                    self.offset = end
                if len(batch) >= 200:
                    break
        return batch

    def ack(self, token: Any) -> None:
        self.offset = int(token)
        _write_atomically(self.offset_file, str(self.offset))

    def close(self) -> None:
        return None


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)
