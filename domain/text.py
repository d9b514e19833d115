"""Text a person typed (a name, an address, a reason, a note): what it must be to be recorded.

Recorded text outlives the request: it is projected into PostgreSQL (whose text cannot hold
NUL), published as Avro and emailed (UTF-8, which has no lone surrogates), exported and shown
on screens (where control characters and bidirectional overrides make text display as
something it is not, CVE-2021-42574). And one name must have one spelling: "José" typed on
two keyboards is two different strings unless both are in Unicode normal form C. So text is
refused, never silently changed, unless it is NFC and free of those characters; the message
says what is wrong, never what was sent (docs/errors.md). The HTTP edge refuses the characters
(its OpenAPI pattern says which); normal form C, which no pattern can say, is the domain's.
"""

from __future__ import annotations

import re
import unicodedata

from domain.errors import RuleViolationError

# What no recorded text holds: C0 and C1 controls (NUL included) and DEL, bidirectional
# embedding, override and isolate controls, and lone surrogates. Written once, for Python's `re`
# and for the JSON Schema `pattern` of the OpenAPI document (the same escapes mean the same in
# both). The pattern leaves surrogates out: a JSON string is made of Unicode scalar values
# (RFC 8259, I-JSON), so a schema validator cannot even read a lone one.
_ONE_LINE_NEVER = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_MULTILINE_NEVER = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_SURROGATES = r"\ud800-\udfff"
ONE_LINE_PATTERN = rf"^[^{_ONE_LINE_NEVER}]*$"
MULTILINE_PATTERN = rf"^[^{_MULTILINE_NEVER}]*$"  # tab, line feed and carriage return kept
_ONE_LINE = re.compile(rf"[^{_ONE_LINE_NEVER}{_SURROGATES}]*")
_MULTILINE = re.compile(rf"[^{_MULTILINE_NEVER}{_SURROGATES}]*")


class InvalidTextError(RuleViolationError):
    code = "invalid-text"


def character_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why these characters cannot be recorded, or None: what the OpenAPI pattern says."""
    if (_MULTILINE if multiline else _ONE_LINE).fullmatch(value):
        return None
    return ("contains a control character, a lone surrogate or a bidirectional control"
            if multiline else "contains a line break, another control character, a lone "
            "surrogate or a bidirectional control")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why this text cannot be recorded, or None if it can."""
    if (problem := character_problem(value, multiline=multiline)) is not None:
        return problem
    if not unicodedata.is_normalized("NFC", value):
        return "is not in Unicode normal form C (NFC)"
    return None


def plain_text(value: str, field: str, *, multiline: bool = False) -> str:
    """`value`, if it can be recorded as `field`; otherwise InvalidTextError naming the field."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        raise InvalidTextError(f"{field} {problem}")
    return value
