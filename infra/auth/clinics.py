"""The clinics a staff token names (its `clinics` claim), whoever issued the token."""

from __future__ import annotations

from uuid import UUID

from domain.access import Role


def staff_clinics(role: Role, claimed: object) -> frozenset[UUID] | None:
    """The clinics a token's `clinics` claim names (a list of ids). Front desk are always
    scoped (no claim: no clinic); an admin without the claim is the network's; other roles
    are not scoped by clinic (their records are their own, or none)."""
    if claimed is None:
        return frozenset() if role is Role.front_desk else None
    if not isinstance(claimed, list):
        raise ValueError("clinics must be a list of clinic ids")
    return frozenset(UUID(str(c)) for c in claimed)
