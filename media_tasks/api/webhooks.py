"""Webhook endpoints of the signed-in user, and their delivery log."""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from .. import services
from ..models import WebhookEndpoint
from .schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut
from .uploads import ERRORS

router = Router(tags=["webhooks"])


@router.get("", response={200: list[WebhookOut], **ERRORS}, url_name="webhook_list")
def webhook_list(request: HttpRequest):
    return WebhookEndpoint.objects.filter(owner=request.user)


@router.post("", response={201: WebhookCreated, **ERRORS}, url_name="webhook_create")
def webhook_create(request: HttpRequest, payload: WebhookIn):
    """Register an endpoint. Deliveries carry `Webhook-Signature: t=…,v1=…` (HMAC-SHA256 of
    "t.body" under the returned secret)."""
    return Status(201, services.webhook_endpoint_create(owner=request.user, url=payload.url, events=payload.events))


@router.delete("/{int:webhook_id}", response={204: None, **ERRORS}, url_name="webhook_delete")
def webhook_delete(request: HttpRequest, webhook_id: int):
    services.webhook_endpoint_delete(endpoint=get_object_or_404(WebhookEndpoint, pk=webhook_id, owner=request.user))
    return Status(204, None)


@router.get("/{int:webhook_id}/deliveries", response={200: list[DeliveryOut], **ERRORS}, url_name="webhook_deliveries")
def webhook_deliveries(request: HttpRequest, webhook_id: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=webhook_id, owner=request.user)
    return [
        {
            "id": d.id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "status": d.status,
            "attempts": d.attempts,
            "created_at": d.created_at,
            "delivered_at": d.delivered_at,
            "last_status_code": (last := d.attempt_log.last()) and last.status_code,
        }
        for d in endpoint.deliveries.prefetch_related("attempt_log")[:100]
    ]
