"""What the use cases ask of the outside world, one module per area; infra/ implements each
port. Every port is importable from here (`from commands.ports import Holds`)."""

from __future__ import annotations

from commands.ports.audit import AccessTrail, AuditEntry, AuditRecords, TimelineRow
from commands.ports.idempotency import IdempotencyRecords, KeyInFlight, KeyReused, Replay
from commands.ports.ingest import IngestRunRecord, IngestRuns, RowReject
from commands.ports.patient_records import CareTeam, Mailbox, PatientRecords, PersonalDataKeys
from commands.ports.runtime import CommandMetrics, ReadsManyStreams
from commands.ports.sign_in import CodeCheck, OneTimeCodes, SessionGrant, Sessions
from commands.ports.signing import JoinLinks, ReceiptSigner, Signature
from commands.ports.slots import Hold, HoldLimitReached, Holds, SlotCatalog, SlotInfo
from commands.ports.waitlist import WaitlistBoard
from commands.ports.webhooks import SecretBox, WebhookDeliveryLog

__all__ = [
    "AccessTrail", "AuditEntry", "AuditRecords", "CareTeam", "CodeCheck", "CommandMetrics",
    "Hold", "HoldLimitReached", "Holds", "IdempotencyRecords", "IngestRunRecord", "IngestRuns",
    "JoinLinks", "KeyInFlight", "KeyReused", "Mailbox", "OneTimeCodes", "PatientRecords",
    "PersonalDataKeys", "ReadsManyStreams", "ReceiptSigner", "Replay", "RowReject",
    "SecretBox", "SessionGrant", "Sessions", "Signature", "SlotCatalog", "SlotInfo",
    "TimelineRow", "WaitlistBoard", "WebhookDeliveryLog",
]
