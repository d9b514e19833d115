"""/messages: what the local message sink holds (operators' view of the outbox), and in
development /dev/mailbox: the email that would have been sent."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from domain.access import Scope
from infra.auth.tokens import Principal
from infra.http.deps import Mailbox, Publisher
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from infra.messaging.sink import LocalSink

router = APIRouter(tags=["account"])


class SinkMessage(BaseModel):
    topic: str
    key: str
    value_base64: str
    headers: dict[str, str]


@router.get("/messages", response_model=list[SinkMessage],
             responses={404: {"description": "Messages go to Kafka here, not the local sink"}})
def read_messages(
    publisher: Publisher,
    _: Annotated[Principal, Authorized(Scope.messages_read)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SinkMessage]:
    """The last messages published to the local sink (only when Kafka is not configured)."""
    if not isinstance(publisher, LocalSink):
        raise ProblemError("not-found", "Messages go to Kafka here; read them from the topics.")
    return [
        SinkMessage(
            topic=m.topic,
            key=m.key.decode("utf-8", "replace"),
            value_base64=base64.b64encode(m.value).decode(),
            headers={k: v.decode("utf-8", "replace") for k, v in m.headers.items()},
        )
        for m in publisher.read_back(limit)
    ]


@router.get("/dev/mailbox", tags=["development"],
            responses={404: {"description": "Not in development mode"}})
def read_dev_mailbox(mailbox: Mailbox, limit: Annotated[int, Query(ge=1, le=100)] = 20
                     ) -> list[dict[str, Any]]:
    """Development mode only: the email that would have been sent, newest first."""
    if mailbox is None:
        raise ProblemError("not-found", "There is no development mailbox here.")
    return mailbox.messages(limit)
