"""Parts of Avro schemas, as the compatibility check walks them: kinds, named-type references,
logical types, names (infra/messaging/compat.py)."""

from __future__ import annotations

from typing import Any

from fastavro import parse_schema

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "enum", "fixed"})
COMPLEX = NAMED | {"array", "map"}
Named = dict[str, Any]


def parse(schema: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_schema(schema)
    if not isinstance(parsed, dict):
        raise TypeError(f"expected a record schema, got {type(parsed).__name__}")
    return parsed


def deref(schema: Any, names: Named) -> Any:
    """The schema itself, with a reference to a named type replaced by its definition."""
    while True:
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return schema
            if schema not in names:
                raise ValueError(f"unknown named type {schema!r}")
            schema = names[schema]
        elif isinstance(schema, dict) and not isinstance(schema.get("type"), str):
            schema = schema["type"]  # {"type": {...}} or {"type": [...]}
        elif isinstance(schema, dict) and schema["type"] not in PRIMITIVES | COMPLEX:
            schema = schema["type"]  # {"type": "some.Named"}
        else:
            return schema


def kind_of(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    kind = schema["type"]
    assert isinstance(kind, str)
    return kind


def logical(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def short_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def names_match(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    """Spec: (unqualified) names match, or a reader alias names the writer's type."""
    wanted = short_name(writer["name"])
    names = {short_name(reader["name"]), *(short_name(a) for a in reader.get("aliases", []))}
    return wanted in names


def describe(schema: Any) -> str:
    kind = kind_of(schema)
    if kind == "union":
        return "union"
    text = f"{kind} {short_name(schema['name'])}" if kind in NAMED else kind
    logical_type = logical(schema)
    return f"{text} ({logical_type})" if logical_type else text
