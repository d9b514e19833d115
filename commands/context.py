"""Who is acting, in which role, for which request, doing what and why: recorded with every
event (`reason` is the action, `purpose` the purpose of use).

The HTTP edge (or the CLI) opens a context around each command; the event mapper stores it
beside each event's state as `__meta__` (infra/eventstore/mapper.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID

from domain.access import Role


@dataclass(frozen=True)
class CommandContext:
    actor: str
    role: str
    request_id: str
    reason: str
    purpose: str = "operations"
    channel: str = "other"  # the door: api, ui, fhir, system, other (CLI and tools)

    def as_dict(self) -> dict[str, str]:
        # Not dataclasses.asdict: it deep-copies field by field, once per event saved.
        return {"actor": self.actor, "role": self.role, "request_id": self.request_id,
                "reason": self.reason, "purpose": self.purpose, "channel": self.channel}


@dataclass(frozen=True)
class Actor:
    """Who asks a use case to act, as a door knows them: a token's subject and role (None:
    signed out, or the system), the request, and the stated purpose of use."""

    subject: str
    role: Role | None = None
    request_id: str = "-"
    purpose: str = "operations"
    session_id: str | None = None  # a patient's sign-in session (sign-out ends it)
    clinics: frozenset[UUID] | None = None  # staff's clinics (None: not scoped by clinic)
    system: bool = False  # the clinic's own processes and operators' CLI, not a person's token
    door: str | None = None  # which door the request came through (`api`, `ui`, `fhir`), if any

    def doing(self, reason: str) -> CommandContext:
        role = self.role.value if self.role else "system" if self.system else "anonymous"
        channel = self.door or ("system" if self.system else "other")
        return CommandContext(actor=self.subject, role=role, request_id=self.request_id,
                              reason=reason, purpose=self.purpose, channel=channel)


SYSTEM_ACTOR = Actor(subject="system", system=True)
SYSTEM = SYSTEM_ACTOR.doing("")  # the context of whatever runs outside a door's command
_current: ContextVar[CommandContext] = ContextVar("command_context", default=SYSTEM)


def current_context() -> CommandContext:
    return _current.get()


@contextmanager
def acting_as(context: CommandContext) -> Iterator[CommandContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
