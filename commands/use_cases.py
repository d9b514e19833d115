"""Every use case, composed over the one event-sourced application.

Each door (the HTTP routes, the CLI, the demo seeder, and later FHIR, the web UI and
ingestion) gets these, never its own copy. infra/wiring builds them with real adapters;
a test can build them with its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from commands.application import ClinicApplication
from commands.audit import Audit
from commands.booking import Bookings
from commands.consents import Consents
from commands.directory import Directory
from commands.erasure import Erasing, Retention
from commands.follow_ups import FollowUps
from commands.holds import Holding
from commands.ingest.run import Ingestion
from commands.patients import Patients
from commands.ports import (
    AccessTrail,
    AuditRecords,
    CareTeam,
    CommandMetrics,
    Holds,
    IdempotencyRecords,
    IngestRuns,
    JoinLinks,
    Mailbox,
    OneTimeCodes,
    PatientRecords,
    ReceiptSigner,
    SecretBox,
    Sessions,
    SlotCatalog,
    WebhookDeliveryLog,
)
from commands.reminders import Reminders
from commands.sign_in import SignIn
from commands.telehealth import Telehealth
from commands.timeline import Timeline
from commands.visits import Visits
from commands.waitlist import Waitlist
from commands.webhooks import Webhooks
from domain.agendas import NoShowRule


@dataclass(frozen=True)
class Policy:
    """The clinic's configurable rules the use cases apply."""

    hold_ttl_seconds: int = 300
    max_holds_per_holder: int = 3
    cancellation_cutoff: timedelta = timedelta(hours=24)
    max_upcoming_visits: int = 8  # per patient; staff may book beyond it (recorded)
    retention_years: float = 10
    unverified_registration_days: float = 7  # then retention erases the registration
    no_show_rule: NoShowRule = field(default_factory=NoShowRule)  # after repeated no-shows
    webhook_loopback: bool = False  # webhooks to this machine (development only)


@dataclass(frozen=True)
class Adapters:
    """The outside world, one adapter per port."""

    email_key: bytes
    offer_key: bytes  # derives the secrets of waitlist offers' holds (commands/offers.py)
    slots: SlotCatalog
    holds: Holds
    idempotency: IdempotencyRecords
    codes: OneTimeCodes
    sessions: Sessions
    care_team: CareTeam
    records: PatientRecords
    receipts: ReceiptSigner
    join_links: JoinLinks
    metrics: CommandMetrics
    audit_records: AuditRecords
    access: AccessTrail
    ingest_runs: IngestRuns
    mailbox: Mailbox | None = None
    secrets: SecretBox | None = None  # seals webhook signing secrets
    webhook_deliveries: WebhookDeliveryLog | None = None


@dataclass(frozen=True)
class UseCases:
    directory: Directory
    patients: Patients
    sign_in: SignIn
    consents: Consents
    holding: Holding
    bookings: Bookings
    visits: Visits
    telehealth: Telehealth
    erasing: Erasing
    retention: Retention
    reminders: Reminders
    audit: Audit
    timeline: Timeline
    ingestion: Ingestion
    waitlist: Waitlist
    follow_ups: FollowUps
    webhooks: Webhooks

    @classmethod
    def compose(cls, app: ClinicApplication, adapters: Adapters,
                policy: Policy) -> UseCases:
        a = adapters
        directory = Directory(app, policy.no_show_rule)
        patients = Patients(app, a.email_key, a.care_team, a.idempotency)
        visits = Visits(app, policy.cancellation_cutoff)
        holding = Holding(a.slots, a.holds, ttl_seconds=policy.hold_ttl_seconds,
                          max_per_holder=policy.max_holds_per_holder)
        erasing = Erasing(patients, visits, a.records, a.sessions, a.codes, a.holds, a.mailbox)
        bookings = Bookings(app, visits, holding, a.idempotency, a.metrics,
                            policy.max_upcoming_visits, policy.no_show_rule)
        return cls(
            directory=directory,
            patients=patients,
            sign_in=SignIn(patients, a.codes, a.sessions, a.metrics),
            consents=Consents(patients, a.receipts),
            holding=holding,
            bookings=bookings,
            visits=visits,
            telehealth=Telehealth(visits, directory, a.join_links),
            erasing=erasing,
            retention=Retention(erasing, a.records, policy.retention_years,
                                policy.unverified_registration_days),
            reminders=Reminders(app),
            audit=Audit(app, a.access),
            timeline=Timeline(app, a.audit_records, a.access),
            ingestion=Ingestion(directory, a.ingest_runs),
            waitlist=Waitlist(app, bookings, visits, holding, a.offer_key),
            follow_ups=FollowUps(bookings),
            webhooks=Webhooks(app, a.secrets, a.webhook_deliveries,
                              allow_loopback=policy.webhook_loopback),
        )
