"""What the FHIR door implements, for its CapabilityStatement (/fhir/R4/metadata): the
searches per resource, the reads and the operations."""

from __future__ import annotations

from infra.fhir import resources

SEARCHES: dict[str, list[tuple[str, str, str]]] = {
    # resource -> (search parameter, type, what it matches)
    "Location": [("_id", "token", "ids"), ("name", "string", "part of the name")],
    "HealthcareService": [("_id", "token", "ids")],
    "Practitioner": [("_id", "token", "ids"), ("name", "string", "part of the name")],
    "PractitionerRole": [("practitioner", "reference", "the provider"),
                         ("location", "reference", "the clinic"),
                         ("service", "reference", "a HealthcareService they offer")],
    "Schedule": [("_id", "token", "ids"),
                 ("actor", "reference", "Practitioner/<id> or Location/<id>")],
    "Slot": [("_id", "token", "ids (without start: the next 93 days)"),
             ("schedule", "reference", "the Schedule"),
             ("start", "date", "eq/ge/gt/le/lt; a date is a day in the clinic's zone"),
             ("end", "date", "eq/ge/gt/le/lt (not in the base spec)"),
             ("service-type", "token", f"{resources.SERVICE_SYSTEM}|<service id>"),
             ("schedule.actor", "reference", "chained: Practitioner/<id> or Location/<id>"),
             ("status", "token", "free (default) or busy"),
             ("_count", "number", "page size, at most 200")],
    "Appointment": [("_id", "token", "ids (no date range needed)"),
                    ("patient", "reference", "the patient's appointments"),
                    ("practitioner", "reference", "the provider's (with a date range)"),
                    ("location", "reference", "at the clinic (with a date range)"),
                    ("date", "date", "the start: eq/ge/gt/le/lt; a date is a clinic-local day"),
                    ("status", "token", "comma-separated statuses"),
                    ("_lastUpdated", "date", "last change: eq/ge/gt/le/lt (a date is a UTC "
                                             "day)"),
                    ("_count", "number", "page size, at most 200")],
    "Patient": [("_id", "token", "ids the caller may read (a patient: themself, the default)")],
    "Consent": [("patient", "reference", "the patient's consent answers")],
}
READS = frozenset({"Location", "HealthcareService", "Practitioner", "PractitionerRole",
                   "Schedule", "Slot", "Appointment", "Patient", "Consent"})
IHE = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/"
OPERATIONS = {"find": f"{IHE}appointment-find", "hold": f"{IHE}appointment-hold",
              "book": f"{IHE}appointment-book",
              "bulk-publish": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/bulk-publish"}
