"""Event metadata: CommandContext.as_dict lists its fields by hand (it runs for every event
saved); a field added to the context must reach the metadata too."""

from __future__ import annotations

from dataclasses import asdict

from commands.context import CommandContext


def test_as_dict_holds_every_field_of_the_context() -> None:
    context = CommandContext(actor="a", role="r", request_id="q", reason="why", purpose="p")
    assert context.as_dict() == asdict(context)
