"""A partner API as an ingestion source, against a real HTTP server on loopback that answers
as scripted: 429, then 500, then a page, then malformed JSON; or a page and then silence.
Each gives a clear run error, and the rows read before it are in. A 429's Retry-After is
waited, up to its cap."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import DIRECTORY as DIRECTORY_KINDS
from commands.ingest.rows import Kind
from commands.ingest.run import IngestReport, IngestRequest
from domain.clinics import Clinic
from domain.services import Service
from infra.ingest.partner_source import partner_client, partner_rows
from infra.settings.ingest import PartnerSource
from infra.wiring.container import Container
from tests.integration.ingest_slots import back_to_back, projected_week
from tests.integration.ingest_support import OPERATOR, events, our

TOKEN = "partner-secret-token"
HARBOR = {"external_id": "harbor", "name": "Harbor Clinic", "address_line": "1 Main St",
          "city": "Boston", "state": "MA", "postal_code": "02110",
          "time_zone": "America/New_York", "modalities": ["in_person", "telehealth"]}
LAKESIDE = HARBOR | {"external_id": "lakeside", "name": "Lakeside Clinic",
                     "time_zone": "America/Chicago", "modalities": ["in_person"]}
CHECKUP = {"external_id": "checkup", "name": "Checkup", "duration_minutes": 30,
           "modality": "in_person"}
DIRECTORY: dict[str, list[Any]] = {
    "clinics": [HARBOR, LAKESIDE], "services": [CHECKUP],
    "providers": [{"external_id": "dr-one", "display_name": "Dr. One",
                   "clinics": ["harbor"], "services": ["checkup"]}],
    "hours": [{"provider": "dr-one", "clinic": "harbor", "monday": [["09:00", "12:00"]],
               "tuesday": "13:00-17:00", "granularity_minutes": 30}],
}


def page(items: list[Any], next_cursor: str | None = None) -> tuple[int, bytes]:
    return 200, json.dumps({"items": items, "next_cursor": next_cursor}).encode()


class Partner:
    """A partner API: GET /<kind>?cursor=... answers the next scripted answer for that page
    (the last one again once the script runs out); "hang" answers nothing for a while."""

    def __init__(self, script: dict[tuple[str, str | None], list[Any]],
                 api_key: bool = False) -> None:
        self.script = script
        self.requests: list[tuple[str, str | None]] = []
        self.times: list[float] = []  # when each request came (time.monotonic)
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                key = (url.path.strip("/"), parse_qs(url.query).get("cursor", [None])[0])
                partner.requests.append(key)
                partner.times.append(time.monotonic())
                given = self.headers.get("X-API-Key") if api_key else \
                    self.headers.get("Authorization")
                if given != (TOKEN if api_key else f"Bearer {TOKEN}"):
                    return self._answer(401, b'{"error": "unauthorized"}')
                answers = partner.script.get(key, [(404, b"{}")])
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == "hang":
                    time.sleep(1.0)
                    return None
                status, body, *headers = answer
                return self._answer(status, body, *headers)

            def _answer(self, status: int, body: bytes, headers: Any = None) -> None:
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> Partner:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def settings_for(partner: Partner, **options: Any) -> PartnerSource:
    given: dict[str, Any] = {"auth": "bearer", "token": TOKEN, "timeout_seconds": 0.3,
                             "max_attempts": 3, "backoff_seconds": 0.01}
    return PartnerSource(url=partner.url, **(given | options))


def pull(container: Container, source: PartnerSource, kinds: tuple[Kind, ...]) -> IngestReport:
    with partner_client(source) as client:
        rows = partner_rows("acme", source, kinds, client)
        return container.use_cases.ingestion.run(
            IngestRequest(source="partner:acme", kinds=kinds), rows, OPERATOR)


@pytest.fixture
def every_kind() -> Iterator[Partner]:
    with Partner({(kind, None): [page(items)] for kind, items in DIRECTORY.items()}) as p:
        yield p


def test_a_partner_directory_goes_in_once(container: Container, every_kind: Partner,
                                         project: Any) -> None:
    report = pull(container, settings_for(every_kind), DIRECTORY_KINDS)
    assert (report.run.rows_read, report.run.applied, report.run.rejected) == (5, 5, 0), \
        report.rejects
    assert container.app.get(Clinic, our(Kind.clinics, "harbor", "partner:acme"),
                             "clinic").modalities == ["in_person", "telehealth"]
    project()
    source = "partner:acme"
    assert projected_week(container) == back_to_back(
        our(Kind.providers, "dr-one", source), our(Kind.clinics, "harbor", source),
        our(Kind.services, "checkup", source), "in_person", 30,
        {0: [("09:00", "12:00")], 1: [("13:00", "17:00")]})
    before = events(container)
    again = pull(container, settings_for(every_kind), DIRECTORY_KINDS)
    assert (again.run.unchanged, events(container)) == (5, before)


def test_429_then_500_are_retried_and_malformed_json_stops_the_run_after_what_was_read(
        container: Container) -> None:
    script: dict[tuple[str, str | None], list[Any]] = {
        ("clinics", None): [(429, b"{}", {"Retry-After": "0"}), (500, b"oops"),
                            page([HARBOR, LAKESIDE], "p2")],
        ("clinics", "p2"): [(200, b'{"items": [{"external_id": ')],
    }
    with Partner(script) as partner:
        with pytest.raises(IngestSourceError) as stopped:
            pull(container, settings_for(partner), (Kind.clinics,))
        assert partner.requests == [("clinics", None)] * 3 + [("clinics", "p2")]
    assert stopped.value.detail == "partner acme: page 2 of clinics is not valid JSON"
    report: IngestReport = stopped.value.report
    assert (report.run.status, report.run.applied) == ("failed", 2)
    assert container.app.find(Clinic, our(Kind.clinics, "lakeside", "partner:acme"))


def test_a_429_waits_its_retry_after_in_seconds_or_as_a_date_up_to_the_cap(
        container: Container) -> None:
    """The partner says how long to wait: the client waits at least that long (not its own
    short backoff), and no longer than max_retry_after_seconds however long it is told."""
    later = formatdate(time.time() + 8, usegmt=True)  # more than the cap
    script: dict[tuple[str, str | None], list[Any]] = {
        ("clinics", None): [(429, b"{}", {"Retry-After": "1"}), page([HARBOR])],
        ("services", None): [(429, b"{}", {"Retry-After": later}), page([CHECKUP])],
    }
    with Partner(script) as partner:
        report = pull(container, settings_for(partner, max_retry_after_seconds=1.5),
                      (Kind.clinics, Kind.services))
        assert partner.requests == [("clinics", None)] * 2 + [("services", None)] * 2
        told, capped = partner.times[1] - partner.times[0], partner.times[3] - partner.times[2]
    assert (report.run.applied, report.rejects) == (2, [])
    assert 1.0 <= told < 3.0, told  # the backoff alone would be 0.01 s
    assert 1.5 <= capped < 3.5, capped  # about 8 s asked for, the cap given


def test_a_partner_that_stops_answering_times_out_after_its_attempts(
        container: Container) -> None:
    script: dict[tuple[str, str | None], list[Any]] = {
        ("services", None): [page([CHECKUP], "p2")], ("services", "p2"): ["hang"]}
    with Partner(script) as partner, pytest.raises(IngestSourceError) as stopped:
        pull(container, settings_for(partner), (Kind.services,))
    assert stopped.value.detail == ("partner acme: page 2 of services failed 3 times; last: "
                                    "no answer within 0.3 s")
    assert container.app.find(Service, our(Kind.services, "checkup", "partner:acme"))


def test_credentials_go_as_configured_and_a_refusal_says_so(container: Container) -> None:
    script: dict[tuple[str, str | None], list[Any]] = {("services", None): [page([CHECKUP])]}
    with Partner(script, api_key=True) as partner:
        keyed = settings_for(partner, auth="api-key")
        assert pull(container, keyed, (Kind.services,)).run.applied == 1
        with pytest.raises(IngestSourceError) as refused:
            pull(container, settings_for(partner), (Kind.services,))  # a bearer token instead
    assert refused.value.detail == ("partner acme: page 1 of services was refused: HTTP 401 "
                                    "(check the credentials)")


def test_an_item_that_is_not_an_object_is_a_rejected_row(container: Container) -> None:
    with Partner({("services", None): [page([CHECKUP, ["not", "an", "object"]])]}) as partner:
        report = pull(container, settings_for(partner), (Kind.services,))
    assert (report.run.applied, [(r.row, r.rule) for r in report.rejects]) == \
        (1, [(2, "row-shape")])
