"""Messages reach a real Kafka broker (or the local sink) and can be read back."""

import uuid
from pathlib import Path

from confluent_kafka import Consumer

from infra.embedded.kafka import EmbeddedKafka
from infra.messaging import KafkaPublisher, LocalSink, build_publisher
from projections.ports import OutboundMessage


def test_produce_consume_round_trip_through_real_kafka(kafka: EmbeddedKafka) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    sent = [
        OutboundMessage(topic, key=b"appt-1", value=bytes([0, 1, 2, n]),
                        headers={"event-id": str(uuid.uuid4()).encode()})
        for n in range(5)
    ]
    publisher = KafkaPublisher(kafka.bootstrap)
    assert publisher.ready()
    publisher.publish(sent)
    publisher.close()

    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"g-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    received = []
    try:
        for _ in range(200):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            received.append(msg)
            if len(received) == len(sent):
                break
    finally:
        consumer.close()
    assert [m.value() for m in received] == [m.value for m in sent]  # one key: one partition
    assert all(m.key() == b"appt-1" for m in received)
    assert [dict(m.headers())["event-id"] for m in received] == [
        m.headers["event-id"] for m in sent
    ]


def test_unreachable_kafka_is_not_ready() -> None:
    assert not KafkaPublisher("127.0.0.1:1", {"socket.timeout.ms": 500}).ready()


def test_local_sink_reads_back_what_was_published(tmp_path: Path) -> None:
    sink = build_publisher(None, tmp_path)
    assert isinstance(sink, LocalSink)
    messages = [OutboundMessage("t", b"k", bytes(range(256)), {"h": b"\x00\xff"})]
    sink.publish(messages)
    sink.publish(messages)
    assert sink.ready()
    assert sink.read_back(10) == messages * 2
    assert sink.read_back(1) == messages
