"""Webhook receivers: `POST /webhooks/<gateway name>/`, one per registered gateway.

Order matters: the raw body is read before anything parses it (signatures cover the exact
bytes), the delivery is verified, stored once per event id together with its queued
processing (the outbox), and handed to a task after commit; the provider gets its 2xx
without waiting for the work. A database failure while storing answers 503: nothing was
kept, and the provider delivers again.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from payments import services
from payments.gateways.base import WebhookInvalid
from payments.gateways.registry import KEPT_PROVIDER_HEADERS, names, webhook_verifier

logger = logging.getLogger(__name__)

# Kept on the stored event for staff: the generic ones and each provider's delivery id or
# signature header.
KEPT_HEADERS = ("Content-Type", "User-Agent", *KEPT_PROVIDER_HEADERS)


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    provider = ""  # the gateway's registry name, set per URL (billing_portal/urls.py)
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        body = request.body
        verifier = webhook_verifier(self.provider)
        if verifier is None:
            return JsonResponse({"error": f"{self.provider} is not configured."}, status=404)
        try:
            event = verifier.verify(body=body, headers=request.headers)
        except WebhookInvalid as error:
            return JsonResponse({"error": error.message}, status=400)
        try:
            _record, created = services.webhook_event_receive(
                provider=self.provider,
                event_id=event.event_id,
                event_type=event.event_type,
                headers={
                    name: request.headers[name] for name in KEPT_HEADERS if name in request.headers
                },
                body=body.decode(),
            )
        except DatabaseError:
            # The transaction rolled back (or never committed): the provider must retry.
            logger.exception("%s webhook %s not stored", self.provider, event.event_id)
            response = JsonResponse({"error": "Not stored; deliver again."}, status=503)
            response["Retry-After"] = "30"
            return response
        return JsonResponse({"received": True, "duplicate": not created})


def webhook_urls() -> list[URLPattern]:
    """`webhooks/<name>/` (named `webhook-<name>`) for every registered gateway: the
    addresses the providers are configured with."""
    return [
        path(f"webhooks/{name}/", WebhookView.as_view(provider=name), name=f"webhook-{name}")
        for name in names()
    ]
