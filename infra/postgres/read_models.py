"""Construct read models through eventsourcing's infrastructure factory."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from infra.crypto.phi import PhiCipher
from infra.eventstore.recorder import eventsourcing_env
from infra.postgres.analytics import AnalyticsReadModel
from infra.postgres.appointments import AppointmentsReadModel
from infra.postgres.audit_log import AuditConfig, AuditLogReadModel
from infra.postgres.audit_timeline import AuditTimelineReadModel
from infra.postgres.read_model import Clock, TrackedReadModel, utc_now
from infra.postgres.slot_search import SlotSearchReadModel
from infra.postgres.waitlist import WaitlistReadModel

KINDS: dict[str, type[TrackedReadModel]] = {
    SlotSearchReadModel.name: SlotSearchReadModel,
    AppointmentsReadModel.name: AppointmentsReadModel,
    AuditLogReadModel.name: AuditLogReadModel,
    AuditTimelineReadModel.name: AuditTimelineReadModel,
    AnalyticsReadModel.name: AnalyticsReadModel,
    WaitlistReadModel.name: WaitlistReadModel,
}
READ_MODELS = tuple(KINDS)


def read_model(name: str, database_url: str, schema: str, clock: Clock = utc_now,
               phi: PhiCipher | None = None, audit: AuditConfig | None = None
               ) -> TrackedReadModel:
    """Construct a read model through eventsourcing's factory (creating its tables)."""
    kind = KINDS[name]
    env = eventsourcing_env(database_url, schema) | {"POSTGRES_POOL_SIZE": "2",
                                                     "POSTGRES_MAX_OVERFLOW": "2"}
    factory = InfrastructureFactory[TrackedReadModel].construct(
        env=Environment(name=kind.name, env=env)
    )
    model = factory.tracking_recorder(kind)
    model.clock = clock
    model.phi = phi
    if isinstance(model, AuditLogReadModel):
        model.config = audit  # None: leaves only, no checkpoints (tests that do not sign)
    return model


def slot_search_read_model(database_url: str, schema: str,
                           clock: Clock = utc_now) -> SlotSearchReadModel:
    model = read_model(SlotSearchReadModel.name, database_url, schema, clock)
    assert isinstance(model, SlotSearchReadModel)
    return model


def create_read_model_tables(database_url: str, schema: str) -> None:
    """Queries need the tables before the first projector runs: create them (idempotent)."""
    for name in READ_MODELS:
        read_model(name, database_url, schema).datastore.close()
