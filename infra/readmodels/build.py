"""Construct read models through eventsourcing's infrastructure factory."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from infra.eventstore import eventsourcing_env
from infra.readmodels.slot_search import Clock, SlotSearchReadModel, utc_now

READ_MODELS = ("slot_search",)


def slot_search_read_model(database_url: str, schema: str,
                           clock: Clock = utc_now) -> SlotSearchReadModel:
    env = eventsourcing_env(database_url, schema) | {"POSTGRES_POOL_SIZE": "2",
                                                     "POSTGRES_MAX_OVERFLOW": "2"}
    factory = InfrastructureFactory[SlotSearchReadModel].construct(
        env=Environment(name=SlotSearchReadModel.name, env=env)
    )
    read_model = factory.tracking_recorder(SlotSearchReadModel)
    read_model.clock = clock
    return read_model


def create_read_model_tables(database_url: str, schema: str) -> None:
    """Queries need the tables before the first projector runs: create them (idempotent)."""
    slot_search_read_model(database_url, schema).datastore.close()
