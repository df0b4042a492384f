"""Recording a service's usage (metered billing: call minutes, seats, bandwidth): the rows
renewals bill above the product's included quantity (invoices.services.renewals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing_portal.common.audit import audit_record
from billing_portal.common.request import RequestMeta
from invoices.audit import UsageAudit
from invoices.errors import UsageKeyReused, UsageRefused
from invoices.models import UsageRecord
from provisioning.models import Service

METRIC_FORMAT = re.compile(r"[a-z][a-z0-9_]{0,49}")
QUANTITY_QUANTUM = Decimal("0.0001")
QUANTITY_MAX = Decimal("9999999999")  # the column's 14 digits, 4 of them decimals
# A meter's clock a little ahead of ours is not a report from the future.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class UsageRecorded:
    record: UsageRecord
    created: bool  # False: the key's earlier record, nothing new was written


def _usage_check(metric: str, quantity: Decimal, recorded_at: datetime) -> None:
    if not METRIC_FORMAT.fullmatch(metric):
        raise UsageRefused(
            "The metric is a name such as call_minutes or seats: lower-case letters, digits "
            "and underscores, starting with a letter, at most 50 characters."
        )
    if not quantity.is_finite() or quantity < 0 or quantity > QUANTITY_MAX:
        raise UsageRefused(f"The quantity must be between 0 and {QUANTITY_MAX}.")
    if quantity != quantity.quantize(QUANTITY_QUANTUM):
        raise UsageRefused("The quantity has at most four decimals.")
    if recorded_at > timezone.now() + CLOCK_SKEW:
        raise UsageRefused("The usage cannot be recorded in the future.")


def _same(record: UsageRecord, metric: str, quantity: Decimal, recorded_at: datetime) -> bool:
    return (record.metric, record.quantity, record.recorded_at) == (metric, quantity, recorded_at)


def usage_record_add(
    *,
    service_id: int,
    metric: str,
    quantity: Decimal,
    idempotency_key: str,
    recorded_at: datetime | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> UsageRecorded:
    """Record `quantity` of `metric` for the service, once per idempotency key: the same key
    again is the first record (a different report under it is refused, nothing changes).
    Service.DoesNotExist for an unknown service."""
    recorded_at = recorded_at or timezone.now()
    _usage_check(metric, quantity, recorded_at)
    service = Service.objects.select_related("customer").get(pk=service_id)
    try:
        with transaction.atomic():
            record = UsageRecord.objects.create(
                service=service,
                metric=metric,
                quantity=quantity,
                recorded_at=recorded_at,
                idempotency_key=idempotency_key,
                recorded_by=actor,
            )
            audit_record(
                action=UsageAudit.USAGE_RECORDED,
                actor=actor,
                customer=service.customer,
                target=record,
                meta=meta,
                details={"service": service.pk, "metric": metric, "quantity": str(quantity)},
            )
    except IntegrityError:
        # The key's first report won (it waited on the unique index until that committed).
        record = UsageRecord.objects.get(service=service, idempotency_key=idempotency_key)
        if not _same(record, metric, quantity, recorded_at):
            raise UsageKeyReused() from None
        return UsageRecorded(record, created=False)
    return UsageRecorded(record, created=True)
