"""OpenAPI pieces the directory's routes share: their tags, and a 201 with `Location`."""

from enum import Enum
from typing import Any

PUBLIC: list[str | Enum] = ["directory and search"]
ADMIN: list[str | Enum] = ["directory administration"]
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created; `Location` names the new resource"}
}
