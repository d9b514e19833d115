"""Protected health information (PHI): which attributes hold it, and whose it is.

The domain declares; the infrastructure encrypts exactly these attributes with the
patient's own data key before anything is stored
(docs/decisions/0013-phi-sealing-and-crypto-shredding.md).
Erasing that key erases them everywhere at once: events, snapshots and read models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERASED = "[erased]"
SELF = "originator_id"  # subject of a Patient's own events and snapshots: the patient


@dataclass(frozen=True)
class PHI:
    """`fields` are PHI; `subject` names the attribute holding the patient's id (SELF: the
    record is the patient's own)."""

    fields: frozenset[str]
    subject: str


def phi_of(kind: type[Any]) -> PHI | None:
    """The declaration on an event or aggregate class, if it carries PHI."""
    declared = getattr(kind, "phi", None)
    return declared if isinstance(declared, PHI) else None
