"""The FHIR validator harness (HAPI FHIR's instance validator, R4, offline) can fail and pass:
a well-formed AuditEvent in a collection Bundle validates, a broken one fails naming what is
wrong, an .ndjson file validates line by line, and the purposeOfUse codes the clinic means to
use are known to it. One JVM run validates every file of this module."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.harness.fhir_validator import Issue, Result, errors, validate

pytestmark = pytest.mark.integration

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PURPOSES = ("TREAT", "ETREAT", "HPAYMT", "HOPERAT", "PATRQT", "HCOMPL", "HLEGAL")
NARRATIVE = "http://hl7.org/fhir/StructureDefinition/DomainResource#dom-6"


def audit_event(purposes: tuple[str, ...] = ()) -> dict[str, Any]:
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                 "code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R",
        "recorded": "2026-03-01T10:15:30.123+00:00",
        "outcome": "0",
        "agent": [{"who": {"identifier": {"value": "staff-4711"}}, "requestor": True}],
        "source": {"observer": {"display": "clinic-booking"},
                   "type": [{"system":
                             "http://terminology.hl7.org/CodeSystem/security-source-type",
                             "code": "4"}]},
        "entity": [{
            "what": {"reference": f"Patient/{uuid.uuid4()}"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                     "code": "1"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role",
                     "code": "1"}}],
    }
    if purposes:
        event["agent"][0]["purposeOfUse"] = [
            {"coding": [{"system": ACT_REASON, "code": code}]} for code in purposes]
    return event


def bundle(*events: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"https://clinic.example/fhir/R4/AuditEvent/{event['id']}",
         "resource": event} for event in events]}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    folder = tmp_path_factory.mktemp("fhir")
    broken = audit_event()
    del broken["recorded"]
    broken["colour"] = "red"
    files = {
        "valid": json.dumps(bundle(audit_event(PURPOSES))),
        "broken": json.dumps(bundle(broken)),
        "bogus purpose": json.dumps(bundle(audit_event(("NOT-A-REASON",)))),
        "not json": '{"resourceType": "AuditEvent", oops',
    }
    paths = []
    for number, text in enumerate(files.values()):
        paths.append(folder / f"{number}.json")
        paths[-1].write_text(text, encoding="utf-8")
    lines = folder / "events.ndjson"
    lines.write_text(f"{json.dumps(audit_event())}\n\n{json.dumps(audit_event(('TREAT',)))}\n",
                     encoding="utf-8")
    answer = validate(*paths, lines)
    assert [(Path(r.file), r.resource) for r in answer] == [
        *((path, 0) for path in paths), (lines, 0), (lines, 1)]
    return {**dict(zip(files, answer, strict=False)),
            "ndjson 0": answer[-2], "ndjson 1": answer[-1]}


def test_a_valid_audit_event_in_a_bundle_has_no_errors(results: dict[str, Result]) -> None:
    assert results["valid"].errors == []
    # The only remark: no narrative (best practice, a warning on every resource without text).
    assert {issue.message_id for issue in results["valid"].issues} == {NARRATIVE}


def test_a_broken_audit_event_fails_naming_what_is_wrong(results: dict[str, Result]) -> None:
    found = results["broken"].errors
    assert any("recorded" in issue.message and "minimum required = 1" in issue.message
               for issue in found), found
    assert any("Unrecognized property 'colour'" in issue.message for issue in found), found


def test_an_ndjson_file_validates_line_by_line(results: dict[str, Result]) -> None:
    assert results["ndjson 0"].errors == []
    assert results["ndjson 1"].errors == []


def test_what_is_not_json_is_a_fatal_issue(results: dict[str, Result]) -> None:
    assert [issue.severity for issue in results["not json"].issues] == ["fatal"]


def test_the_clinics_purposes_of_use_are_known_codes(results: dict[str, Result]) -> None:
    def remarks(result: Result) -> list[Issue]:
        return [issue for issue in result.issues if ".purposeOfUse[" in issue.location]

    assert remarks(results["valid"]) == [], dict(enumerate(PURPOSES))
    # The check is real: an unknown ActReason code is an error (and a value set warning).
    bogus = remarks(results["bogus purpose"])
    assert {issue.severity for issue in bogus} == {"error", "warning"}
    assert any("Unknown code" in issue.message and "NOT-A-REASON" in issue.message
               for issue in bogus), bogus


def test_errors_takes_resources_as_dicts() -> None:
    fine = bundle(audit_event(PURPOSES))
    mismatched = copy.deepcopy(fine)
    mismatched["entry"][0]["fullUrl"] = f"https://clinic.example/fhir/R4/AuditEvent/{uuid.uuid4()}"
    found = errors(fine, mismatched)
    assert [issue.message_id for issue in found] == ["BUNDLE_ENTRY_URL_MATCHES_TYPE_ID"], found
