"""`clinic keys`: the PHI key-encryption key (KEK) — status, a new key, rotation."""

from __future__ import annotations

import argparse
import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager

from infra.cli.errors import CliError, load_settings
from infra.crypto.derived_keys import key_ring
from infra.crypto.kek import KeyEncryptionKeyError
from infra.eventstore.application import open_data_keys
from infra.postgres.data_keys import PostgresDataKeys
from infra.wiring.servers import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="PHI key-encryption key: status, generate, rotate")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("status", help="data keys per key-encryption key").set_defaults(
        handler=show_status)
    actions.add_parser(
        "generate", help="print a new random key-encryption key (base64, 32 bytes)",
        description="Put it in CLINIC_PHI_KEK (or CLINIC_PHI_KEK_FILE), move the old one to "
        "CLINIC_PHI_KEK_PREVIOUS, then run `clinic keys rotate`.",
    ).set_defaults(handler=generate)
    actions.add_parser(
        "rotate", help="re-wrap every data key under CLINIC_PHI_KEK",
        description="Re-wraps each patient's data key under the current key-encryption key; "
        "events are not rewritten. Afterwards remove the old key from "
        "CLINIC_PHI_KEK_PREVIOUS and destroy it.",
    ).set_defaults(handler=rotate)


def generate(args: argparse.Namespace) -> int:
    print(base64.b64encode(os.urandom(32)).decode())
    return 0


def show_status(args: argparse.Namespace) -> int:
    with _data_keys() as keys:
        print(f"current key-encryption key: {keys.ring.current_id}")
        for row in keys.status():
            if row.kek_id is None:
                print(f"  shredded (erased patients): {row.keys}")
            else:
                state = "configured" if row.configured else "NOT CONFIGURED"
                print(f"  {row.kek_id}: {row.keys} data keys ({state})")
    return 0


def rotate(args: argparse.Namespace) -> int:
    with _data_keys() as keys:
        try:
            count = keys.rotate()
        except KeyEncryptionKeyError as exc:
            raise CliError(str(exc)) from None
        print(f"re-wrapped {count} data keys under {keys.ring.current_id}")
    return 0


@contextmanager
def _data_keys() -> Iterator[PostgresDataKeys]:
    """The data-key store on the configured (or embedded) database."""
    settings = load_settings()
    try:
        key_ring(settings)
    except (ValueError, KeyEncryptionKeyError) as exc:
        raise CliError(f"configuration: {exc}") from None
    with Runtime(settings) as resolved:
        keys = open_data_keys(resolved)
        try:
            yield keys
        finally:
            keys.close()
