"""What every /fhir/R4 route shares: the media type, the OperationOutcome response in the
OpenAPI document, and searchset Bundles with `next` links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

BASE = "/fhir/R4"
MEDIA_TYPE = "application/fhir+json"
OUTCOME = {"description": "OperationOutcome", "content": {MEDIA_TYPE: {"schema": {
    "type": "object", "properties": {"resourceType": {"const": "OperationOutcome"}}}}}}


class FhirResponse(JSONResponse):
    """application/fhir+json, rendered by orjson (datetimes and UUIDs natively): a Bundle of
    fifty Slots is the FHIR face's hot path, as the page is GET /slots'."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + BASE


def bundle(request: Request, found: list[dict[str, Any]], *, total: bool = True,
           next_params: dict[str, str] | None = None) -> dict[str, Any]:
    """A searchset: `total` when the whole match is in hand, a `next` link to page on."""
    base = base_url(request)
    own = request.url
    links = [{"relation": "self", "url": str(own)}]
    if next_params is not None:
        params = [(k, v) for k, v in request.query_params.multi_items()
                  if k not in next_params] + list(next_params.items())
        links.append({"relation": "next", "url": f"{base}{own.path[len(BASE):]}?"
                                                 f"{urlencode(params)}"})
    found_bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset", "link": links,
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in found]}
    if total:
        found_bundle["total"] = len(found)
    return found_bundle
