"""Our problem types as FHIR OperationOutcomes: every error under /fhir answers in FHIR's
own shape, with the HTTP status FHIR's RESTful API gives that kind of failure (a bad search
parameter is 400, a business rule 422)."""

from __future__ import annotations

from typing import Any

PROBLEM_SYSTEM = "urn:clinic:problem"  # our stable codes (docs/errors.md)
ISSUES: dict[str, tuple[str, int | None]] = {  # problem -> (issue type, status if not ours)
    "validation-error": ("invalid", 400),
    "malformed-request": ("structure", 400),
    "unauthenticated": ("login", None),
    "forbidden": ("forbidden", None),
    "not-found": ("not-found", None),
    "method-not-allowed": ("not-supported", None),
    "conflict": ("conflict", None),
    "precondition-failed": ("conflict", None),
    "payload-too-large": ("too-long", None),
    "rule-violation": ("business-rule", None),
    "rate-limited": ("throttled", None),
    "internal-error": ("exception", None),
    "service-unavailable": ("transient", None),
}


def operation_outcome(problem: str, status: int, detail: str,
                      extensions: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, body) for a problem: one issue, plus one per invalid field."""
    kind, fhir_status = ISSUES.get(problem, ("processing", None))
    code = str(extensions.get("error") or problem)
    issues = [{"severity": "error", "code": kind, "diagnostics": detail,
               "details": {"coding": [{"system": PROBLEM_SYSTEM, "code": code}],
                           "text": detail}}]
    for error in extensions.get("errors") or []:
        where = ".".join(str(p) for p in error.get("location", []))
        issue: dict[str, Any] = {"severity": "error", "code": kind,
                                 "diagnostics": f"{where}: {error.get('message', '')}"}
        if where:
            issue["expression"] = [where]
        issues.append(issue)
    return fhir_status or status, {"resourceType": "OperationOutcome", "issue": issues}
