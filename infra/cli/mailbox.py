"""`clinic mailbox`: the development mailbox, where email lands without SMTP."""

from __future__ import annotations

import argparse

from infra.cli.errors import CliError, load_settings
from infra.wiring.notifier import dev_mailbox
from projections.notifications.emails import find_sign_in_code


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mailbox = sub.add_parser(
        "mailbox", help="show the newest emails of the development mailbox (codes, visits)",
        description="Development mode without CLINIC_SMTP_HOST: email (sign-in codes, "
        "confirmations, reminders, cancellations) is written to CLINIC_DATA_DIR/mailbox "
        "instead of being sent.")
    mailbox.add_argument("--limit", type=int, default=10)
    mailbox.set_defaults(handler=show_mailbox)


def show_mailbox(args: argparse.Namespace) -> int:
    box = dev_mailbox(load_settings())
    if box is None:
        raise CliError("there is no development mailbox: email goes out through SMTP")
    messages = box.messages(args.limit)
    if not messages:
        print("(no messages yet)")
    for message in messages:
        code = find_sign_in_code(message["body"])
        extra = f"  code {code}" if code else ""
        print(f"{message['at']}  to {message['to']}  {message['subject']}{extra}")
    return 0
