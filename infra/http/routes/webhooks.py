"""/webhooks: register, read, rotate and disable partners' webhooks (admin); the delivery log
(admin, compliance) and sending a dead delivery again (admin). docs/webhooks.md."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from commands.context import Actor
from commands.inputs import IsoDateTime
from commands.webhooks import WebhookCreate, WebhookList, WebhookPublic, WebhookWithSecret
from domain.access import Scope
from infra.http.deps import ReadPool, WebhooksDep
from infra.http.security import Acting
from queries.webhook_deliveries import DeliveryPage, DeliveryStatus, list_deliveries

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Admin = Annotated[Actor, Acting(Scope.webhooks_manage)]
LogReader = Annotated[Actor, Acting(Scope.messages_read)]
NO_STORE = {"Cache-Control": "no-store"}  # the answer holds a secret
GONE: dict[int | str, dict[str, Any]] = {409: {"description": "The webhook is disabled"}}


# The delivery log first: /webhooks/deliveries is not a webhook id.
@router.get("/deliveries", response_model=DeliveryPage)
async def read_webhook_deliveries(
    _: LogReader, pool: ReadPool,
    status: DeliveryStatus | None = None,
    webhook_id: Annotated[UUID | None, Query(description="one webhook's deliveries")] = None,
    before: Annotated[IsoDateTime | None, Query(description="`next_before` of the last page")
                      ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """Deliveries newest first, each with every attempt (`status=dead`: the dead letters)."""
    return await list_deliveries(pool, status, webhook_id, before, limit)


@router.post("/deliveries/{delivery_id}/retry", status_code=202,
             responses={202: {"description": "Pending again, with a fresh round of attempts"},
                        409: {"description": "The delivery is not dead"}})
def retry_webhook_delivery(delivery_id: UUID, actor: Admin, webhooks: WebhooksDep) -> Response:
    """Send a dead delivery again (after its cause was fixed), with a fresh round of
    attempts."""
    webhooks.redeliver(delivery_id, actor)
    return Response(status_code=202)


@router.post("", status_code=201, response_model=WebhookWithSecret,
             responses={201: {"description": "Registered; the signing secret is shown this "
                                             "once"},
                        409: {"description": "Too many active webhooks"}})
def create_webhook(body: WebhookCreate, actor: Admin, webhooks: WebhooksDep) -> JSONResponse:
    """Register a partner's HTTPS endpoint for some appointment messages."""
    created = webhooks.register(body, actor)
    return JSONResponse(created.model_dump(mode="json"), status_code=201,
                        headers={**NO_STORE, "Location": f"/webhooks/{created.webhook_id}"})


@router.get("", response_model=WebhookList)
def read_webhooks(_: Admin, webhooks: WebhooksDep) -> WebhookList:
    """Every webhook, newest first (never their secrets)."""
    return webhooks.every()


@router.get("/{webhook_id:uuid}", response_model=WebhookPublic)
def read_webhook(webhook_id: UUID, _: Admin, webhooks: WebhooksDep) -> WebhookPublic:
    """One webhook (never its secret)."""
    return webhooks.read(webhook_id)


@router.post("/{webhook_id:uuid}/rotate-secret", response_model=WebhookWithSecret,
             responses=GONE)
def rotate_webhook_secret(webhook_id: UUID, actor: Admin,
                          webhooks: WebhooksDep) -> JSONResponse:
    """A new signing secret, shown this once; deliveries are signed with it from now on."""
    rotated = webhooks.rotate_secret(webhook_id, actor)
    return JSONResponse(rotated.model_dump(mode="json"), headers=NO_STORE)


@router.delete("/{webhook_id:uuid}", response_model=WebhookPublic)
def disable_webhook(webhook_id: UUID, actor: Admin, webhooks: WebhooksDep) -> WebhookPublic:
    """Disable: nothing more is sent, pending deliveries included; the secret is destroyed."""
    return webhooks.disable(webhook_id, actor)
