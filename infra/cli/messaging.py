"""`clinic relay`, `clinic notify` and `clinic webhooks`: the outbox relay, the email notifier
and the webhook dispatcher."""

from __future__ import annotations

import argparse

from prometheus_client import start_http_server

from infra.cli.errors import CliError
from infra.cli.workers import close_all, host_until, role_started, worker_until
from infra.observability.metrics import exposition_registry
from infra.wiring.notifier import build_kafka_notifier
from infra.wiring.servers import Runtime
from infra.wiring.webhooks import build_dispatcher


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    relay = sub.add_parser(
        "relay", help="publish the event log to Kafka (the outbox relay) until Ctrl-C",
        description="Follow the event store's notification log and publish every message to "
        "Kafka (CLINIC_KAFKA_BOOTSTRAP; unset: the local sink), recording the position only "
        "after the broker acknowledged. A second instance waits as a standby.")
    _metrics_options(relay)
    relay.set_defaults(handler=run_relay)
    notify = sub.add_parser(
        "notify", help="email patients from the Kafka topics until Ctrl-C",
        description="Consume the topics in consumer group CLINIC_NOTIFY_GROUP and send sign-in "
        "codes, confirmations (.ics), reminders and cancellations through CLINIC_SMTP_HOST "
        "(development: the mailbox). Without Kafka it follows the local sink instead.")
    notify.add_argument("--retry-dead-letters", action="store_true",
                        help="handle the dead-letter topic's messages again (after fixing "
                        "the cause), then exit once it stays quiet for 10 s")
    _metrics_options(notify)
    notify.set_defaults(handler=run_notify)
    webhooks = sub.add_parser(
        "webhooks", help="deliver the appointment messages to registered webhooks until Ctrl-C",
        description="Consume clinic.appointments.v1 in consumer group CLINIC_WEBHOOK_GROUP, "
        "record one delivery per message and subscription, and POST them signed (Standard "
        "Webhooks), retrying with backoff up to CLINIC_WEBHOOK_MAX_ATTEMPTS (docs/webhooks.md). "
        "Without Kafka it follows the local sink, one active instance.")
    _metrics_options(webhooks)
    webhooks.set_defaults(handler=run_webhooks)


def _metrics_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--metrics-port", type=int, metavar="PORT",
                         help="serve this process's Prometheus metrics (published messages, "
                         "publish failures, notifier outcomes) on PORT at /metrics")
    command.add_argument("--metrics-host", default="127.0.0.1",
                         help="address for --metrics-port (default 127.0.0.1)")


def _serve_metrics(args: argparse.Namespace) -> None:
    """An API process shows the lags; what only this process counts needs its own port."""
    if args.metrics_port is not None:
        start_http_server(args.metrics_port, addr=args.metrics_host,
                          registry=exposition_registry())


def run_relay(args: argparse.Namespace) -> int:
    settings, done = role_started("relay")
    with Runtime(settings) as resolved:
        _serve_metrics(args)
        host_until(done, resolved, ("relay",))
    return 0


def run_notify(args: argparse.Namespace) -> int:
    settings, done = role_started("notify")
    with Runtime(settings) as resolved:
        _serve_metrics(args)
        if not resolved.kafka_bootstrap:
            if args.retry_dead_letters:
                raise CliError("dead letters are kept on Kafka: set CLINIC_KAFKA_BOOTSTRAP")
            host_until(done, resolved, ("notifier",))
            return 0
        try:
            notifier, resources = build_kafka_notifier(
                resolved, dead_letters=args.retry_dead_letters)
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
        if args.retry_dead_letters:
            try:
                print(notifier.redeliver_all())
            finally:
                close_all(resources)
            return 0
        worker_until(done, notifier, resources)
    return 0


def run_webhooks(args: argparse.Namespace) -> int:
    settings, done = role_started("webhooks")
    with Runtime(settings) as resolved:
        _serve_metrics(args)
        if not resolved.kafka_bootstrap:  # the sink has one offset file: one reader
            host_until(done, resolved, ("webhooks",))
            return 0
        dispatcher, resources = build_dispatcher(resolved)
        worker_until(done, dispatcher, resources)
    return 0
