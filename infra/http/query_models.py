"""Query parameters as one pydantic model, read without FastAPI's per-parameter resolution.

FastAPI 0.165 inspects every query parameter's annotation again on each request
(`field_annotation_is_sequence` and friends): for GET /slots, nine parameters and two
dependencies were a fifth of a search's CPU. The one hot read takes `Request` alone, reads
its parameters with `query_of` (one pydantic validation; the same 422 problem as FastAPI's
own) and documents them with `documented` (the same OpenAPI parameters FastAPI would
generate). docs/decisions/0028-hot-read-without-parameter-resolution.md.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def query_of(model: type[M], request: Request) -> M:
    """The request's query parameters as `model` (unknown ones ignored, as FastAPI does;
    a repeated one: its last value, as FastAPI does for a scalar)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]) from None


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` listing the model's fields as optional query parameters."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    parameters = []
    for name, field in schema["properties"].items():
        field = _inline(field, definitions)
        description = field.get("description")
        parameter: dict[str, Any] = {"name": name, "in": "query",
                                     "required": name in schema.get("required", ()),
                                     "schema": field}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return {"parameters": parameters}


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """The schema with pydantic's local `$defs` references replaced by what they name."""
    if isinstance(node, dict):
        reference = node.get("$ref", "")
        inlined = {key: _inline(value, definitions) for key, value in node.items()
                   if key != "$ref" or not reference.startswith("#/$defs/")}
        if reference.startswith("#/$defs/"):  # the definition, with what stood beside $ref
            return {**_inline(definitions[reference.removeprefix("#/$defs/")], definitions),
                    **inlined}
        return inlined
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node
