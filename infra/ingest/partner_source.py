"""A partner's HTTP API as source rows (docs/ingest.md, "Partner APIs"): `GET {url}/{kind}`
pages of `{"items": [...], "next_cursor": ...}`, followed until the cursor is null.

Each page is asked for until it comes, within limits: 429 waits its Retry-After (capped),
5xx and timeouts back off exponentially, up to `max_attempts`; then the run stops with a
message naming the page and the last failure. Malformed JSON stops it at once. Rows of the
pages read before a stop have already been applied.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import Kind, SourceRow
from infra.settings.ingest import PartnerSource

TRANSIENT = {429, 500, 502, 503, 504}
Sleep = Callable[[float], None]


def partner_client(partner: PartnerSource) -> httpx.Client:
    headers = {"Accept": "application/json"}
    secret = partner.token.get_secret_value() if partner.token else ""
    if partner.auth == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif partner.auth == "api-key":
        headers[partner.api_key_header] = secret
    return httpx.Client(base_url=partner.url.rstrip("/") + "/", headers=headers,
                        timeout=partner.timeout_seconds, verify=partner.ca_file or True)


def partner_rows(name: str, partner: PartnerSource, kinds: tuple[Kind, ...],
                 client: httpx.Client, sleep: Sleep = time.sleep) -> Iterator[SourceRow]:
    """Every item of every page, kinds in the order given (references first), numbered from
    1 across the whole run."""
    number = 0
    for kind in kinds:
        cursor: str | None = None
        seen: set[str] = set()
        for page_number in range(1, 1_000_000):
            page = _page(name, partner, client, kind, cursor, page_number, sleep)
            for item in page["items"]:
                number += 1
                if isinstance(item, dict):
                    yield SourceRow(number, kind, item)
                else:
                    yield SourceRow(number, kind, {}, "an item is not a JSON object")
            cursor = page.get("next_cursor")
            if not cursor:
                break
            if cursor in seen:
                raise IngestSourceError(f"partner {name}: the {kind.value} cursor came back "
                                        f"to an earlier page (page {page_number})")
            seen.add(cursor)


def _page(name: str, partner: PartnerSource, client: httpx.Client, kind: Kind,
          cursor: str | None, page_number: int, sleep: Sleep) -> dict[str, Any]:
    where = f"partner {name}: page {page_number} of {kind.value}"
    return _parsed(where, fetch(client, kind.value, partner, where,
                                {"cursor": cursor} if cursor else None, sleep))


def fetch(client: httpx.Client, url: str, policy: PartnerSource, where: str,
          params: dict[str, str] | None = None, sleep: Sleep = time.sleep) -> httpx.Response:
    """A GET that answered 200, asked again within `policy`'s limits: 429 waits its
    Retry-After (capped), 5xx, timeouts and connection failures back off exponentially;
    any other status, or too many failures, is an IngestSourceError naming `where`."""
    failure, response = "", None
    for attempt in range(policy.max_attempts):
        if attempt:
            sleep(_delay(policy, attempt, response))
        response = None
        try:
            response = client.get(url, params=params)
        except httpx.TimeoutException:
            failure = f"no answer within {policy.timeout_seconds:g} s"
            continue
        except httpx.TransportError as exc:
            failure = f"could not connect ({type(exc).__name__})"
            continue
        if response.status_code in TRANSIENT:
            failure = f"HTTP {response.status_code}"
            continue
        if response.status_code != 200:
            hint = " (check the credentials)" if response.status_code in (401, 403) else ""
            raise IngestSourceError(f"{where} was refused: HTTP {response.status_code}{hint}")
        return response
    raise IngestSourceError(f"{where} failed {policy.max_attempts} times; last: {failure}")


def _parsed(where: str, response: httpx.Response) -> dict[str, Any]:
    try:
        page = response.json()
    except ValueError:
        raise IngestSourceError(f"{where} is not valid JSON") from None
    if not isinstance(page, dict) or not isinstance(page.get("items"), list) or \
            not isinstance(page.get("next_cursor"), str | None):
        raise IngestSourceError(f'{where} is not a page: expected {{"items": [...], '
                                '"next_cursor": "..." or null}')
    return page


def _delay(partner: PartnerSource, attempt: int, response: httpx.Response | None) -> float:
    """Retry-After when the partner said it (seconds or an HTTP date), capped; otherwise
    exponential backoff."""
    backoff: float = partner.backoff_seconds * 2.0 ** (attempt - 1)
    said = response.headers.get("Retry-After") if response is not None else None
    if said is None:
        return backoff
    try:
        seconds = float(said)
        if not math.isfinite(seconds):
            return backoff
    except ValueError:
        try:
            seconds = parsedate_to_datetime(said).timestamp() - time.time()
        except (TypeError, ValueError):
            return backoff
    return min(max(seconds, 0.0), partner.max_retry_after_seconds)
