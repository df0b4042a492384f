"""Outbound webhooks: events the portal sends to endpoints staff register in the admin.

Emitting. A service that changes something a receiver may care about calls
`webhook_emit(WebhookEventType.X, obj, **fields)` inside its own transaction. For every
active endpoint subscribed to the event a `WebhookDelivery` row is written there and then,
so a delivery exists exactly when the change committed (the delivery row is the outbox row
of this work: outbox.py's rule for work with a durable row of its own and a sweeper). After
commit its task is published once (`task_publish_on_commit`, one attempt, a one-second
connect timeout); the sweep (`common.webhooks_sweep`, every 2 minutes) queues any whose
message was lost. Nothing is sent inside the transaction, so a slow or dead receiver never
holds up the payment or invoice that caused the event.

Which events have subscribers is read from the cache (one key, a minute at most, dropped as
soon as an endpoint changes and again once that change commits), so a service that emits an
event nobody subscribes to costs no query: the credit ledger's append stays one statement.
With the cache down it is read from the database each time.

Delivering. A delivery is an outbound operation of the kernel
(billing_portal/common/operations.py): claimed under its row lock, POSTed outside any
transaction, every attempt recorded (`WebhookAttempt`: status code, response excerpt,
duration, error). A 2xx delivers it; anything else is retried with exponential backoff
(30 s doubling, at most an hour apart) until 24 hours after the event, then it fails and
staff are told by mail. Staff can send any delivery again from the admin (`webhook_
delivery_resend`): the same body and event id, a fresh signature and a new 24 hours.

Signing. Each POST carries

    Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">

keyed with the endpoint's secret (`whsec_...`, generated here, shown to staff once, stored
encrypted), plus `Webhook-Id` (the event id, the same on every attempt: receivers drop
repeats by it) and `Webhook-Event`. `webhook_signature_verify` is what a receiver does.

URLs. https only, and not to loopback, private or link-local addresses (checked when saved
and again, after resolving the name, before every POST), unless WEBHOOK_ALLOW_INSECURE_URLS
(development and the tests' loopback receiver). Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from djmoney.money import Money

from billing_portal.common.audit import WebhookAudit, audit_record
from billing_portal.common.db import in_batches
from billing_portal.common.errors import DomainError, ExternalServiceError
from billing_portal.common.locks import LockKind, lock_one
from billing_portal.common.operations import (
    OperationKind,
    operation_queue,
    operation_requeue,
    operation_run,
    operations_sweep,
)
from billing_portal.common.request import RequestMeta
from billing_portal.common.webhook_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DELIVERY",
    "SIGNATURE_HEADER",
    "WebhookEventType",
    "webhook_atomic",
    "webhook_delivery_resend",
    "webhook_emit",
    "webhook_emit_many",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
    "webhook_sign",
    "webhook_signature_verify",
    "webhook_url_validate",
]

DELIVER_TASK = "common.webhook_deliver"
SIGNATURE_HEADER = "Webhook-Signature"
RETRY_WINDOW = timedelta(hours=24)
TIMEOUT = (3.05, 10)  # connect, read (seconds)
EXCERPT_CHARS = 1000
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept a signature's t
SUBSCRIBED_TTL = 60  # seconds the cached set of subscribed events is trusted


class WebhookError(DomainError):
    code = "webhook_error"


# --- Signing -------------------------------------------------------------------------------


def webhook_secret_new() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def webhook_sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `Webhook-Signature` header's value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_signature_verify(
    secret: str, body: bytes, header: str, *, now: float | None = None
) -> bool:
    """What a receiver checks: a v1 signature of `body` with `secret`, and a t no older (or
    newer) than SIGNATURE_TOLERANCE seconds."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > SIGNATURE_TOLERANCE:
        return False
    expected = webhook_sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- URLs ---------------------------------------------------------------------------------


def _insecure_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_INSECURE_URLS", False))


def _public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return True  # a name: checked once resolved, before sending


def webhook_url_validate(url: str) -> None:
    """Refuse a URL the portal must not POST to (ValidationError with the reason)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError("Enter a full https:// URL.", code="invalid")
    if parts.username or parts.password:
        raise ValidationError("Credentials do not belong in the URL.", code="credentials")
    if _insecure_allowed():
        return
    if parts.scheme != "https":
        raise ValidationError("Webhook URLs must use https://.", code="https")
    if parts.hostname.lower() in ("localhost", "localhost.") or not _public(parts.hostname):
        raise ValidationError(
            "Webhook URLs must point at a public address.", code="private_address"
        )


def _resolved_public(url: str) -> bool:
    """Whether every address the URL's host resolves to is public (no SSRF into the
    provider's own network through a name that points inside it)."""
    if _insecure_allowed():
        return True
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return True  # the POST then fails to connect, and is retried
    return all(_public(str(info[4][0])) for info in found)


# --- Emitting -----------------------------------------------------------------------------


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Money):
            return {"amount": str(o.amount), "currency": str(o.currency)}
        if isinstance(o, models.Model):
            return o.pk
        return super().default(o)


def _subscribed_key() -> str:
    # Per database: test runs and portals sharing one Redis do not see each other's.
    return f"webhooks:subscribed:{connection.settings_dict['NAME']}"


def _subscriptions_load() -> frozenset[str]:
    events: set[str] = set()
    for chosen in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True):
        events.update(chosen)
    cache.set(_subscribed_key(), sorted(events), SUBSCRIBED_TTL)
    return frozenset(events)


def _subscribed_events() -> frozenset[str]:
    cached = cache.get(_subscribed_key())
    return frozenset(cached) if cached is not None else _subscriptions_load()


def _subscriptions_changed() -> None:
    """An endpoint changed: forget the cached set now and again once the change commits
    (an emitter reading the old endpoints in between cached the old set)."""
    cache.delete(_subscribed_key())
    transaction.on_commit(lambda: cache.delete(_subscribed_key()), robust=True)


def webhook_atomic(event: str) -> AbstractContextManager[Any]:
    """A transaction around a change that emits `event` when anybody subscribes to it, so
    its deliveries commit with it; else nothing, so a writer that is one statement by
    itself (the credit ledger's append) stays one."""
    return transaction.atomic() if str(event) in _subscribed_events() else nullcontext()


# One event to report: its type, the object it is about and the body's fields.
Event = tuple[str, models.Model, dict[str, Any]]


def webhook_emit(event: str, obj: models.Model, **fields: Any) -> list[WebhookDelivery]:
    """Report `event` about `obj` to every endpoint subscribed to it: call inside the
    transaction of the change. The body's `data` is the object's type and id and `fields`
    (money as {amount, currency}). Costs no query when nobody subscribes."""
    return webhook_emit_many([(event, obj, fields)])


def webhook_emit_many(events: list[Event]) -> list[WebhookDelivery]:
    """`webhook_emit` for a batch of changes (a billing run chunk's invoices), in a
    constant number of statements: the endpoints read once, the deliveries in one INSERT."""
    subscribed = _subscribed_events()
    events = [item for item in events if str(item[0]) in subscribed]
    if not events:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).only("id", "events"))
    now = timezone.now()
    rows = [
        _delivery(endpoint, event_type, obj, fields, now)
        for event_type, obj, fields in events
        for endpoint in endpoints
        if str(event_type) in endpoint.events
    ]
    if not rows:  # the cached set was stale: put the truth back
        _subscriptions_load()
        return []
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    for delivery in deliveries:
        operation_queue(DELIVERY, delivery.pk)
    return deliveries


def _delivery(
    endpoint: WebhookEndpoint, event: str, obj: models.Model, fields: dict[str, Any], now: datetime
) -> WebhookDelivery:
    event_id = uuid.uuid4()  # one per delivery: each endpoint's receiver sees its own
    data = {"object": obj._meta.label_lower, "id": obj.pk, **fields}
    body = json.dumps(
        {"id": str(event_id), "type": str(event), "created_at": now, "data": data},
        cls=_Encoder,
        separators=(",", ":"),
    )
    return WebhookDelivery(
        endpoint_id=endpoint.pk,
        event_id=event_id,
        event_type=str(event),
        body=body,
        idempotency_key=f"webhook:{endpoint.pk}:{event_id}",
        created_at=now,
        next_attempt_at=now,
        retry_until=now + RETRY_WINDOW,
    )


# --- Delivering ---------------------------------------------------------------------------


def _headers(delivery: WebhookDelivery, secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"{settings.PORTAL_NAME} webhooks",
        "Webhook-Id": str(delivery.event_id),
        "Webhook-Event": delivery.event_type,
        SIGNATURE_HEADER: webhook_sign(secret, body, int(time.time())),
    }


def _excerpt(response: requests.Response) -> str:
    try:
        raw = next(response.iter_content(EXCERPT_CHARS * 4), b"")
    except requests.RequestException:
        return ""
    finally:
        response.close()
    return raw.decode(response.encoding or "utf-8", errors="replace")[:EXCERPT_CHARS]


def _record_attempt(
    delivery: WebhookDelivery, started: datetime, began: float, **outcome: Any
) -> None:
    # Each in its own statement, outside any transaction: the attempt is history whatever
    # happens next. The status code goes on the delivery too (the kernel re-reads the row).
    duration = int((time.monotonic() - began) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery, started_at=started, duration_ms=duration, **outcome
    )
    code = outcome.get("status_code")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_status_code=code)


def _failure(delivery: WebhookDelivery, message: str, status: int = 0) -> ExternalServiceError:
    """Retried while the delivery's 24 hours last; after that it fails."""
    retryable = timezone.now() < delivery.retry_until
    return ExternalServiceError(message, retryable=retryable, status=status)


def _post(delivery: WebhookDelivery) -> int:
    """The kernel's call: one signed POST; the receiver's status code on a 2xx."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        raise ExternalServiceError("The endpoint is disabled.", retryable=False)
    if not _resolved_public(endpoint.url):
        raise ExternalServiceError("The URL resolves to a private address.", retryable=False)
    body = delivery.body.encode()
    started, began = timezone.now(), time.monotonic()
    try:
        response = requests.post(
            endpoint.url,
            data=body,
            headers=_headers(delivery, endpoint.secret, body),
            timeout=TIMEOUT,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as error:
        text = f"{type(error).__name__}: {error}"[:2000]
        _record_attempt(delivery, started, began, error=text)
        raise _failure(delivery, text) from error
    excerpt = _excerpt(response)
    _record_attempt(
        delivery, started, began, status_code=response.status_code, response_excerpt=excerpt
    )
    if 200 <= response.status_code < 300:
        return response.status_code
    raise _failure(delivery, f"The endpoint answered {response.status_code}.", response.status_code)


def _delivered(delivery: WebhookDelivery, status_code: Any, now: datetime) -> None:
    delivery.last_status_code = status_code


def _alert(delivery: WebhookDelivery, error: ExternalServiceError) -> tuple[str, str]:
    return (
        f"Webhook to {delivery.endpoint} failed for good",
        f"{delivery.event_type} (event {delivery.event_id}) was not accepted by "
        f"{delivery.endpoint.url} after {delivery.attempts} attempts: {error.message}\n"
        "Send it again from the admin (Webhook deliveries) once the receiver works.",
    )


DELIVERY: OperationKind[WebhookDelivery] = OperationKind(
    model=WebhookDelivery,
    task_name=DELIVER_TASK,
    call=_post,
    on_success=_delivered,
    alert=_alert,
    # Receivers drop repeats by Webhook-Id, so an attempt whose answer was lost is resent.
    idempotent=True,
    # The 24 hours end it (`_failure`), not a count: 30 s doubling to an hour is ~30 tries.
    max_attempts=60,
    backoff_base=timedelta(seconds=30),
    backoff_cap=timedelta(hours=1),
    running_timeout=timedelta(minutes=5),  # far beyond the POST's timeouts
    related=("endpoint",),
)


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery:
    """Try a due delivery once (the task's body)."""
    return operation_run(DELIVERY, delivery_id, now=now)


def webhooks_sweep(*, now: datetime | None = None) -> list[int]:
    """Deliveries to queue again: their message was lost, or their worker died."""
    return operations_sweep(DELIVERY, now=now)


def webhook_deliveries_prune(*, now: datetime | None = None) -> int:
    """Housekeeping: delete deliveries (with their attempts) that succeeded more than
    OPERATION_LOG_RETENTION_DAYS ago, as succeeded DNS pushes are; failed ones stay for
    staff. Returns how many deliveries went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OPERATION_LOG_RETENTION_DAYS)
    done = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SUCCEEDED, finished_at__lt=cutoff
    )
    label = WebhookDelivery._meta.label
    return in_batches(done, lambda rows: rows.delete()[1].get(label, 0))


# --- Staff: endpoints and re-sending ------------------------------------------------------


def _events_checked(events: list[str]) -> list[str]:
    known = set(WebhookEventType.values)
    unknown = [event for event in events if event not in known]
    if unknown or not events:
        raise ValidationError("Choose events from the list.", code="events")
    return sorted(set(events))


def webhook_endpoint_lock(endpoint_id: int) -> WebhookEndpoint:
    """An endpoint's row, locked alone (its rank in the lock order: `webhook_endpoint`)."""
    return lock_one(WebhookEndpoint.objects.all(), kind=LockKind.WEBHOOK_ENDPOINT, pk=endpoint_id)


def webhook_endpoint_create(
    *,
    name: str,
    url: str,
    events: list[str],
    is_active: bool = True,
    actor: Any = None,
    meta: RequestMeta | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its new secret (to show once)."""
    webhook_url_validate(url)
    secret = webhook_secret_new()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            name=name, url=url, events=_events_checked(events), secret=secret, is_active=is_active
        )
        _audit(WebhookAudit.ENDPOINT_CREATED, endpoint, actor, meta)
        _subscriptions_changed()
    return endpoint, secret


def webhook_endpoint_update(
    *,
    endpoint_id: int,
    name: str,
    url: str,
    events: list[str],
    is_active: bool,
    actor: Any = None,
    meta: RequestMeta | None = None,
) -> WebhookEndpoint:
    webhook_url_validate(url)
    with transaction.atomic():
        endpoint = webhook_endpoint_lock(endpoint_id)
        endpoint.name, endpoint.url, endpoint.is_active = name, url, is_active
        endpoint.events = _events_checked(events)
        endpoint.save()
        _audit(WebhookAudit.ENDPOINT_CHANGED, endpoint, actor, meta)
        _subscriptions_changed()
    return endpoint


def webhook_endpoint_rotate_secret(
    *, endpoint_id: int, actor: Any = None, meta: RequestMeta | None = None
) -> str:
    """A new secret for the endpoint (returned to show once); the old one stops at once."""
    secret = webhook_secret_new()
    with transaction.atomic():
        endpoint = webhook_endpoint_lock(endpoint_id)
        endpoint.secret = secret
        endpoint.save(update_fields=["secret", "updated_at"])
        _audit(WebhookAudit.SECRET_ROTATED, endpoint, actor, meta)
    return secret


def webhook_endpoint_delete(
    *, endpoint_id: int, actor: Any = None, meta: RequestMeta | None = None
) -> None:
    with transaction.atomic():
        endpoint = webhook_endpoint_lock(endpoint_id)
        _audit(WebhookAudit.ENDPOINT_DELETED, endpoint, actor, meta, url=endpoint.url)
        endpoint.delete()
        _subscriptions_changed()


def webhook_delivery_resend(
    *, delivery_id: int, actor: Any = None, meta: RequestMeta | None = None
) -> WebhookDelivery:
    """Send a delivery again (the same event and body, a new 24 hours of retries), whatever
    became of it; refused while an attempt is under way."""
    with transaction.atomic():
        delivery = lock_one(WebhookDelivery.objects.all(), kind=LockKind.OPERATION, pk=delivery_id)
        if delivery.status == WebhookDelivery.Status.RUNNING:
            raise WebhookError("This delivery is being sent right now.", code="running")
        delivery.retry_until = timezone.now() + RETRY_WINDOW
        delivery.finished_at = None
        operation_requeue(DELIVERY, delivery)
        _audit(WebhookAudit.DELIVERY_RESENT, delivery, actor, meta, event=delivery.event_type)
    return delivery


def _audit(
    action: WebhookAudit, target: models.Model, actor: Any, meta: RequestMeta | None, **details: Any
) -> None:
    audit_record(action=action, actor=actor, target=target, meta=meta, details=details)
