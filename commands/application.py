"""The booking engine's event-sourced application: every use case, one event store.

Use cases are grouped by area (directory, patients, booking) in their own modules; they
share one application so that a booking and the provider's calendar save atomically.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commands.directory import DirectoryUseCases


class ClinicApplication(DirectoryUseCases):
    name = "clinic"

    def __init__(self, env: Any = None, *, email_key: bytes | None = None,
                 cancellation_cutoff: timedelta | None = None) -> None:
        super().__init__(env=env)
        if email_key is not None:
            self.email_key = email_key
        if cancellation_cutoff is not None:
            self.cancellation_cutoff = cancellation_cutoff
