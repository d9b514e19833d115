"""The use cases on the configured (or embedded) servers, for the length of one command: a
domain refusal, or a key that cannot be opened, becomes a CliError (a message, no
traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from commands.use_cases import UseCases
from domain.errors import DomainError
from infra.cli.errors import CliError, load_settings
from infra.crypto.kek import KeyEncryptionKeyError
from infra.wiring.container import Container
from infra.wiring.servers import Runtime


@contextmanager
def use_cases() -> Iterator[UseCases]:
    with Runtime(load_settings()) as resolved:
        try:
            container = Container.build(resolved)
        except KeyEncryptionKeyError as exc:
            raise CliError(str(exc)) from None
        try:
            yield container.use_cases
        except DomainError as exc:
            raise CliError(str(exc)) from None
        finally:
            container.close()
