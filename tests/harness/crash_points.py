"""`clinic <args>` that SIGKILLs itself at an exact point of the offer matcher's step, for the
restart test (tests/integration/test_offer_matcher_restart.py). A SIGKILL from outside lands
wherever the process happens to be; this one lands where a wrong matcher would lose or repeat
an offer:

    OFFER_CRASH_POINT=before-save:2  the 2nd offer this process records: the hold is placed,
                                     the offer made, and the process dies just before the save
                                     (anything sent before recording would now be sent again)
    OFFER_CRASH_POINT=after-save:1   the 1st offer: recorded, then the process dies before the
                                     step returns (anything sent only after recording, outside
                                     the log, would now be lost)

    python -m tests.harness.crash_points project

Nothing in the product reads this: the point is installed here, around
`ClinicApplication.saved`, before the command starts."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from commands.application import ClinicApplication
from domain.openings import Opening
from infra.cli.main import main

CRASH_POINT = "OFFER_CRASH_POINT"


def _records_an_offer(aggregates: tuple[Any, ...]) -> bool:
    return any(isinstance(a, Opening) and
               any(isinstance(e, Opening.Offered) for e in a.pending_events)
               for a in aggregates)


def install(point: str) -> None:
    where, _, nth = point.partition(":")
    if where not in ("before-save", "after-save"):
        raise SystemExit(f"{CRASH_POINT}: before-save:N or after-save:N, not {point!r}")
    countdown = [int(nth or "1")]
    original = ClinicApplication.saved

    def saved(self: ClinicApplication, *aggregates: Any) -> bool:
        offer = _records_an_offer(aggregates)
        if offer and where == "before-save":
            _count(countdown)
        result = original(self, *aggregates)
        if offer and result and where == "after-save":
            _count(countdown)
        return result

    ClinicApplication.saved = saved  # type: ignore[method-assign]


def _count(countdown: list[int]) -> None:
    countdown[0] -= 1
    if countdown[0] == 0:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    if point := os.environ.get(CRASH_POINT):
        install(point)
    sys.exit(main(sys.argv[1:]))
