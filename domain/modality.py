"""How a visit happens: in the clinic or over video."""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    in_person = "in_person"
    telehealth = "telehealth"
