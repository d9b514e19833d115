"""Problems in plain words, each with the next step: what a person reads instead of an error
code (the codes: docs/errors.md)."""

from __future__ import annotations

from web.api import ApiError

_PLAIN = {
    "slot-taken": "Someone else just booked that time. Please pick another one.",
    "slot-held": "Someone else is holding that time right now. Please pick another one.",
    "slot-unavailable": "That time is no longer offered. Please pick another one.",
    "hold-not-found": "We could not keep that time any longer: your hold ran out. "
                      "Please pick a time again.",
    "hold-limit": "You are holding as many times as you can at once. Book one of them, or "
                  "wait a few minutes.",
    "hold-extension-limit": "We kept this time for you as long as we can. Book it now, or "
                            "pick another time.",
    "invalid-code": "That code is not right, or it has expired. Check the latest email from "
                    "us, or ask for a new code.",
    "code-expired": "That code has expired. Ask for a new one.",
    "rate-limited": "Too many tries in a short time. Please wait a minute and try again.",
    "email-not-verified": "Please confirm your email address with the code we sent first.",
    "consent-required": "We need your consent before booking this visit.",
    "upcoming-visit-limit": "You already have as many upcoming visits as we allow. Cancel "
                            "one, or call the front desk.",
    "no-show-limit": "After missed visits, you can hold one upcoming visit at a time. "
                     "Please call the front desk to book another.",
    "patient-has-a-visit-then": "You already have a visit at that time. Please pick another "
                                "time.",
    "invalid-status-transition": "That is no longer possible for this visit.",
    "offer-not-open": "That offer has ended. You are still on the waitlist.",
    "invalid-search": "We cannot show times for that day. Please pick another day.",
    "not-found": "We could not find that.",
    "validation-error": "Please check what you entered.",
    "unauthorized": "Please sign in again.",
    "forbidden": "You cannot do that with this account.",
}


def plain(problem: ApiError) -> str:
    """What to tell the person; never a stack trace or a raw code."""
    if problem.status == 429:
        wait = f" (about {problem.retry_after} seconds)" if problem.retry_after else ""
        return f"Too many tries in a short time. Please wait{wait} and try again."
    if problem.code in _PLAIN:
        return _PLAIN[problem.code]
    if problem.status == 422 and problem.fields:
        names = ", ".join(f.replace("_", " ") for f in problem.fields if f)
        return f"Please check these entries: {names}."
    if problem.status in (401, 403):
        return _PLAIN["unauthorized" if problem.status == 401 else "forbidden"]
    if problem.status == 404:
        return _PLAIN["not-found"]
    if problem.status >= 500:
        return "Something went wrong on our side. Nothing was changed; please try again."
    return problem.detail or "That did not work. Please try again."
