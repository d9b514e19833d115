"""The audit export as FHIR R4 AuditEvent resources, in the shape of IHE Basic Audit Log
Patterns (BALP): a RESTful-operation event (create, update, delete, read), the requesting
agent with their purpose of use, this system as source, the record as entity, and the
patient as a second entity when the record is someone's (patient-centric, for a patient's
audit trail). A change carries its place in the tamper-evident log (tree index and leaf
hash) so an export can be checked against a signed checkpoint (docs/compliance.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.access import PurposeOfUse

EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
              "code": "rest", "display": "RESTful Operation"}
INTERACTION = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
               "code": "4", "display": "Application Server"}
ACTOR_SYSTEM = "urn:clinic:actor"  # our actors: token subjects, `cli:<login>`, `system`
RECORD_SYSTEM = "urn:clinic:record"  # our record (aggregate) ids
PURPOSES = {PurposeOfUse.treatment: "TREAT", PurposeOfUse.emergency: "ETREAT",
            PurposeOfUse.payment: "HPAYMT", PurposeOfUse.operations: "HOPERAT",
            PurposeOfUse.patient_request: "PATRQT", PurposeOfUse.compliance: "HCOMPL",
            PurposeOfUse.legal: "HLEGAL"}
SUCCESS, MINOR_FAILURE = "0", "4"
ERASURES = frozenset({"Patient.Erased"})  # crypto-shredding: the data is gone for good


def change_event(row: dict[str, Any], site: str) -> dict[str, Any]:
    """One event of the log (an export row of kind "change")."""
    interaction = ("delete" if row["event"] in ERASURES
                   else "create" if row["version"] == 1 else "update")
    details = [_detail("event", row["event"]), _detail("version", str(row["version"])),
               _detail("reason", row["reason"]), _detail("request-id", row["request_id"]),
               _detail("tree-index", str(row["tree_index"])),
               {"type": "leaf-sha256", "valueBase64Binary": row["leaf"]}]
    record = {"what": {"identifier": {"system": RECORD_SYSTEM, "value": str(row["record_id"])}},
              "type": _coding(ENTITY_TYPE, "2", "System Object"),
              "description": row["summary"],
              "detail": [d for d in details if d.get("valueString", True)]}
    return _audit_event(
        f"change-{row['position']}", interaction, row["recorded_at"], SUCCESS,
        agent=_agent(row, "AUT", "author (originator)"), site=site,
        entities=[record, *_patient(row.get("patient_id"))])


def access_event(row: dict[str, Any], site: str) -> dict[str, Any]:
    """One access record: a read of PHI, or a refused request (kind "access")."""
    outcome = SUCCESS if row["outcome"] == "allowed" else MINOR_FAILURE
    record: dict[str, Any] = {
        "type": _coding(ENTITY_TYPE, "2", "System Object"),
        "description": f"{row['action']} {row['resource']}",
        "detail": [d for d in (_detail("request-id", row["request_id"]),
                               _detail("status", str(row["status"])),
                               _detail("detail", row["detail"])) if d["valueString"]]}
    if row.get("record_id"):
        record["what"] = {"identifier": {"system": RECORD_SYSTEM, "value": row["record_id"]}}
    event = _audit_event(f"access-{row['audit_id']}", "read", row["recorded_at"], outcome,
                         agent=_agent(row, "IRCP", "information recipient"), site=site,
                         entities=[record, *_patient(row.get("patient_id"))])
    if outcome != SUCCESS:
        event["outcomeDesc"] = f"refused ({row['status']} {row['detail']})"
    return event


def _audit_event(resource_id: str, interaction: str, recorded: datetime, outcome: str, *,
                 agent: dict[str, Any], site: str,
                 entities: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "AuditEvent", "id": resource_id,
        "text": {"status": "generated",
                 "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{interaction} '
                        f'{resource_id}</div>'},
        "type": EVENT_TYPE,
        "subtype": [{"system": INTERACTION, "code": interaction}],
        "action": {"create": "C", "update": "U", "delete": "D", "read": "R"}[interaction],
        "recorded": recorded.isoformat(),
        "outcome": outcome,
        "agent": [agent],
        "source": {"site": site, "observer": {"display": site}, "type": [SOURCE_TYPE]},
        "entity": entities,
    }


def _agent(row: dict[str, Any], code: str, display: str) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"coding": [_coding(PARTICIPATION, code, display)]},
        "role": [{"text": row["role"]}],
        "who": {"identifier": {"system": ACTOR_SYSTEM, "value": row["actor"]}},
        "requestor": True,
    }
    try:
        reason = PURPOSES[PurposeOfUse(row["purpose"])]
    except ValueError:
        return agent
    agent["purposeOfUse"] = [{"coding": [{"system": ACT_REASON, "code": reason}]}]
    return agent


def _patient(patient_id: object) -> list[dict[str, Any]]:
    if not patient_id:
        return []
    return [{"what": {"reference": f"Patient/{patient_id}"},
             "type": _coding(ENTITY_TYPE, "1", "Person"),
             "role": _coding(OBJECT_ROLE, "1", "Patient")}]


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _detail(kind: str, value: str) -> dict[str, Any]:
    return {"type": kind, "valueString": value}
