"""`clinic mailbox`: the development mailbox, where sign-in codes land without SMTP."""

from __future__ import annotations

import argparse

from infra.cli.errors import CliError, load_settings
from infra.container import dev_mailbox_path
from infra.notifications import DevMailbox


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mailbox = sub.add_parser(
        "mailbox", help="show the newest emails of the development mailbox (codes)",
        description="Development mode without CLINIC_SMTP_HOST: emails (sign-in codes) are "
        "written to CLINIC_DATA_DIR/mailbox instead of being sent.")
    mailbox.add_argument("--limit", type=int, default=10)
    mailbox.set_defaults(handler=show_mailbox)


def show_mailbox(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.development or settings.smtp_host:
        raise CliError("there is no development mailbox: email goes out through SMTP")
    box = DevMailbox(dev_mailbox_path(settings))
    messages = box.messages(args.limit)
    if not messages:
        print("(no messages yet)")
    for message in messages:
        print(f"{message['at']}  to {message['to']}  code {message['code']}")
    return 0
