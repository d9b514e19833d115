"""The booking engine's event-sourced application: every use case, one event store.

Use cases are grouped by area (directory, patients, booking) in their own modules; they
share one application so that a booking and the provider's calendar save atomically.
Build it with infra.application.build_application (it wires the PHI cipher).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commands.directory import DirectoryUseCases
from commands.ports import PersonalDataKeys
from commands.reminders import ReminderUseCases


class ClinicApplication(DirectoryUseCases, ReminderUseCases):
    name = "clinic"
    # Snapshots are off. The use cases read every aggregate from its events in one query
    # (UseCases._get_many, decision 0027), which does not look for snapshots: turning them
    # on (IS_SNAPSHOTTING_ENABLED=y; they are sealed like events, infra/mapper.py) would
    # only add writes until _get_many reads them too.

    def __init__(self, env: Any = None, *, data_keys: PersonalDataKeys | None = None,
                 email_key: bytes | None = None,
                 cancellation_cutoff: timedelta | None = None) -> None:
        super().__init__(env=env)
        if data_keys is not None:
            self.data_keys = data_keys
        if email_key is not None:
            self.email_key = email_key
        if cancellation_cutoff is not None:
            self.cancellation_cutoff = cancellation_cutoff

    def close(self) -> None:
        super().close()
        if self.data_keys is not None:
            self.data_keys.close()
