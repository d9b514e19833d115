"""What every group of use cases relies on: the application's save and repository."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate

from domain.errors import NotFoundError

A = TypeVar("A", bound=Aggregate)


class UseCases(Application[UUID]):
    def _get(self, kind: type[A], aggregate_id: UUID, label: str) -> A:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {label} with id {aggregate_id}") from None
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"no {label} with id {aggregate_id}")
        return aggregate
