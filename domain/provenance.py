"""Who recorded an event: the event mapper stores the command's context (actor, role,
request, reason, purpose of use; commands/context.py) beside each event's state, and puts
it back on the event as this attribute when the event is read."""

from __future__ import annotations

METADATA = "__meta__"


def context_of(event: object) -> dict[str, str]:
    """Who recorded an event, in which role and request, why and for which purpose."""
    meta: dict[str, str] = getattr(event, METADATA, {})
    return meta
