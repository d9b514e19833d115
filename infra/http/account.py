"""Who am I, and what the local message sink holds (operators' view of the outbox)."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from domain.access import Role, Scope
from infra.auth.tokens import Principal
from infra.http.deps import ContainerDep
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from infra.messaging.sink import LocalSink

router = APIRouter(tags=["account"])


class Me(BaseModel):
    subject: str
    role: Role
    scopes: list[str]


class SinkMessage(BaseModel):
    topic: str
    key: str
    value_base64: str
    headers: dict[str, str]


@router.get("/me", response_model=Me)
def read_me(principal: Annotated[Principal, Authorized(Scope.profile_read)]) -> Me:
    """The caller's subject, role and scopes, as the token states them."""
    return Me(subject=principal.subject, role=principal.role,
              scopes=sorted(s.value for s in principal.scopes))


@router.get("/messages", response_model=list[SinkMessage],
             responses={404: {"description": "Messages go to Kafka here, not the local sink"}})
def read_messages(
    container: ContainerDep,
    _: Annotated[Principal, Authorized(Scope.messages_read)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SinkMessage]:
    """The last messages published to the local sink (only when Kafka is not configured)."""
    if not isinstance(container.publisher, LocalSink):
        raise ProblemError("not-found", "Messages go to Kafka here; read them from the topics.")
    return [
        SinkMessage(
            topic=m.topic,
            key=m.key.decode("utf-8", "replace"),
            value_base64=base64.b64encode(m.value).decode(),
            headers={k: v.decode("utf-8", "replace") for k, v in m.headers.items()},
        )
        for m in container.publisher.read_back(limit)
    ]
