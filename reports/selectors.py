"""The staff dashboard's figures, each computed in the database (aggregates with FILTER,
Coalesce, correlated sub-queries): never by loading rows into Python. Every function runs one
query, whatever the amount of data, so the dashboard runs a constant number of them.

Definitions (the dashboard's legend repeats them for staff):
- A service is *in service* at a moment `t` when it had started by then (activated, or
  created when it has no activation time) and had not been terminated by then: active and
  suspended services now, terminated ones until their termination. Suspended services still
  owe their renewals, so they count towards MRR.
- MRR: each in-service service's recurring amount divided by its cycle's months (one-time
  purchases have none); ARR is twelve times MRR. Per currency, never converted.
- New services in a period: those that started in it; cancelled: those terminated in it
  (cancelled at the period's end or at once, or for non-payment). Churn: cancelled in the
  period / in service at its start.
- Revenue received: payments received in the period (gross; paying with account credit is
  not money received: the credit's purchase was).
- Overdue: unpaid invoices whose due date has passed. At an earlier moment: invoices issued
  by then, due before it and not yet paid or cancelled then (those paid since count whole).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import TokenPurchase
from catalogue.models import CYCLE_MONTHS, Product
from credits.models import CreditAccount, CreditEntry
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from provisioning.models import CancellationRequest, ProvisioningOperation, Server, Service
from support.models import Ticket

CENT = Decimal("0.01")
MONTHS_SHOWN = 12
AGEING_BUCKETS = ("0-30 days", "31-60 days", "61-90 days", "over 90 days")
MONEY = DecimalField(max_digits=20, decimal_places=6)
_S = Service.Status
# The statuses of services that were ever in service (terminated ones only until then).
STARTED_STATUSES = (_S.ACTIVE, _S.SUSPENDED, _S.TERMINATED)
TOKEN_CHECK = (TokenPurchase.Status.UNCERTAIN, TokenPurchase.Status.FAILED)
TICKET_WAITING = (Ticket.Status.OPEN, Ticket.Status.AWAITING_STAFF)


# --- Periods ------------------------------------------------------------------------------


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


@dataclass(frozen=True)
class Periods:
    """The moments the figures are taken at: now, and the last MONTHS_SHOWN calendar months
    (the last one is this month, up to now)."""

    now: datetime
    months: tuple[date, ...]  # each month's first day, oldest first

    @classmethod
    def at(cls, now: datetime | None = None) -> Periods:
        now = now or timezone.now()
        this_month = _month_start(timezone.localdate(now))
        months = tuple(_add_months(this_month, k) for k in range(1 - MONTHS_SHOWN, 1))
        return cls(now=now, months=months)

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)

    @property
    def month_start(self) -> datetime:
        return _midnight(self.months[-1])

    @property
    def previous_month_start(self) -> datetime:
        return _midnight(self.months[-2])

    def bounds(self) -> list[tuple[datetime, datetime]]:
        """Each month shown as [start, end); this month ends now."""
        starts = [_midnight(month) for month in self.months]
        return list(zip(starts, [*starts[1:], self.now], strict=True))

    def month_ends(self) -> list[datetime]:
        """The moment each month shown ends: the next one's start, and now for this one."""
        return [end for _, end in self.bounds()]


# --- Figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A figure now and in the previous period."""

    current: Decimal
    previous: Decimal

    @property
    def delta(self) -> Decimal:
        return self.current - self.previous

    @property
    def magnitude(self) -> Decimal:
        return abs(self.delta)

    @property
    def percent(self) -> Decimal | None:
        """The change as a percentage of the previous figure (None from nothing)."""
        if not self.previous:
            return None
        return (self.delta * 100 / self.previous).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class CurrencyFigures:
    currency: str
    mrr: Change
    revenue: Change
    overdue: Change
    credit_liability: Change

    @property
    def arr(self) -> Change:
        return Change(self.mrr.current * 12, self.mrr.previous * 12)


@dataclass(frozen=True)
class ServiceFigures:
    in_service: Change  # now, and at this month's start
    new: Change  # this month, last month
    cancelled: Change
    churn: Change | None  # percent; None while nothing was in service at a period's start


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _in_service_at(moment: datetime) -> Q:
    """The services in service at `moment`; needs the `started_at` annotation."""
    not_ended = Q(terminated_at__gt=moment) | Q(
        terminated_at__isnull=True, status__in=(_S.ACTIVE, _S.SUSPENDED)
    )
    return Q(status__in=STARTED_STATUSES, started_at__lte=moment) & not_ended


def _services() -> Any:
    return Service.objects.annotate(started_at=Coalesce("activated_at", "created_at"))


def _monthly_amount() -> Case:
    """A service's recurring amount per month, from its cycle."""
    whens = [
        When(cycle=cycle, then=ExpressionWrapper(F("recurring_amount") / months, MONEY))
        for cycle, months in CYCLE_MONTHS.items()
        if months
    ]
    return Case(*whens, default=Value(Decimal(0)), output_field=MONEY)


def mrr_by_currency(*, moments: Sequence[datetime]) -> dict[str, list[Decimal]]:
    """MRR in each currency at each of `moments` (one query)."""
    sums = {
        f"m{i}": Sum(_monthly_amount(), filter=_in_service_at(moment), default=Decimal(0))
        for i, moment in enumerate(moments)
    }
    rows = _services().values("currency").annotate(**sums).order_by("currency")
    return {
        row["currency"]: [_money(row[f"m{i}"]) for i in range(len(moments))]
        for row in rows
        if any(row[f"m{i}"] for i in range(len(moments)))
    }


def revenue_by_month(*, periods: Periods) -> dict[str, dict[str, list[Decimal]]]:
    """Payments received per currency, gateway and month shown (one query)."""
    sums = {
        f"r{i}": Sum(
            "amount",
            filter=Q(received_at__gte=start, received_at__lt=end),
            default=Decimal(0),
            output_field=MONEY,
        )
        for i, (start, end) in enumerate(periods.bounds())
    }
    # (Rows of dynamic keys: mypy's plugin types a values() row by its literal keys only.)
    rows: Iterable[Mapping[str, Any]] = (
        Payment.objects.exclude(method=Payment.Method.CREDIT)
        .filter(received_at__gte=periods.bounds()[0][0], received_at__lt=periods.now)
        .values("currency", "gateway")
        .annotate(**sums)
        .order_by("currency", "gateway")
    )
    result: dict[str, dict[str, list[Decimal]]] = defaultdict(dict)
    for row in rows:
        months = [_money(row[f"r{i}"]) for i in range(len(periods.months))]
        result[row["currency"]][row["gateway"]] = months
    return dict(result)


@dataclass(frozen=True)
class Receivables:
    overdue: Change  # now, and at this month's start
    ageing: tuple[Decimal, ...]  # per AGEING_BUCKETS, now
    ageing_counts: tuple[int, ...]


def _ageing_filters(today: date) -> list[Q]:
    """Unpaid invoices by days past their due date: 1-30, 31-60, 61-90, 91 and more."""
    d30, d60, d90 = (today - timedelta(days=days) for days in (30, 60, 90))
    return [
        Q(due_date__lt=today, due_date__gte=d30),
        Q(due_date__lt=d30, due_date__gte=d60),
        Q(due_date__lt=d60, due_date__gte=d90),
        Q(due_date__lt=d90),
    ]


def receivables_by_currency(*, periods: Periods) -> dict[str, Receivables]:
    """Overdue amounts per currency, now and at this month's start, and now by age
    (one query)."""
    then, then_day = periods.month_start, periods.month_start.date()
    due = ExpressionWrapper(F("total") - F("amount_paid"), MONEY)
    unpaid_now = Q(status=Invoice.Status.UNPAID, due_date__lt=periods.today)
    unpaid_then = (
        Q(issued_at__lte=then, due_date__lt=then_day)
        & (Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=then))
        & (Q(status=Invoice.Status.UNPAID) | Q(paid_at__gt=then))
    )
    owed_then = Case(
        When(status=Invoice.Status.UNPAID, then=due), default=F("total"), output_field=MONEY
    )
    aggregates: dict[str, Any] = {
        "now": Sum(due, filter=unpaid_now, default=Decimal(0)),
        "then": Sum(owed_then, filter=unpaid_then, output_field=MONEY, default=Decimal(0)),
    }
    for i, bucket in enumerate(_ageing_filters(periods.today)):
        aggregates[f"a{i}"] = Sum(due, filter=unpaid_now & bucket, default=Decimal(0))
        aggregates[f"c{i}"] = Count("id", filter=unpaid_now & bucket)
    rows: Iterable[Mapping[str, Any]] = (
        Invoice.objects.exclude(status=Invoice.Status.DRAFT)
        .filter(unpaid_now | unpaid_then)
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )
    buckets = range(len(AGEING_BUCKETS))
    return {
        row["currency"]: Receivables(
            overdue=Change(_money(row["now"]), _money(row["then"])),
            ageing=tuple(_money(row[f"a{i}"]) for i in buckets),
            ageing_counts=tuple(row[f"c{i}"] for i in buckets),
        )
        for row in rows
    }


def credit_liability_by_currency(*, at: datetime) -> dict[str, Change]:
    """Account credit customers hold per currency: the cached balances now, and each
    account's balance after its last entry before `at` (one query)."""
    balance_then = Subquery(
        CreditEntry.objects.filter(account=OuterRef("pk"), created_at__lt=at)
        .order_by("-sequence")
        .values("balance_after")[:1],
        output_field=MONEY,
    )
    rows = (
        CreditAccount.objects.values("currency")
        .annotate(
            now=Sum("balance", output_field=MONEY, default=Decimal(0)),
            then=Sum(Coalesce(balance_then, Value(Decimal(0))), default=Decimal(0)),
        )
        .order_by("currency")
    )
    return {
        row["currency"]: Change(_money(row["now"]), _money(row["then"]))
        for row in rows
        if row["now"] or row["then"]
    }


@dataclass(frozen=True)
class ServiceFlow:
    new: tuple[int, ...]  # per month shown
    cancelled: tuple[int, ...]
    in_service_at_start: tuple[int, ...]
    in_service_now: int


def service_flow(*, periods: Periods) -> ServiceFlow:
    """Services started and terminated in each month shown, in service at each month's
    start and now (one query)."""
    started = Q(status__in=STARTED_STATUSES)
    aggregates: dict[str, Any] = {"now": Count("id", filter=_in_service_at(periods.now))}
    for i, (start, end) in enumerate(periods.bounds()):
        aggregates[f"n{i}"] = Count(
            "id", filter=started & Q(started_at__gte=start, started_at__lt=end)
        )
        aggregates[f"c{i}"] = Count(
            "id",
            filter=Q(status=_S.TERMINATED, terminated_at__gte=start, terminated_at__lt=end),
        )
        # "Before the start": a service started at the very moment is the month's new one.
        aggregates[f"s{i}"] = Count("id", filter=_in_service_at(start) & Q(started_at__lt=start))
    row = _services().aggregate(**aggregates)
    months = range(len(periods.months))
    return ServiceFlow(
        new=tuple(row[f"n{i}"] for i in months),
        cancelled=tuple(row[f"c{i}"] for i in months),
        in_service_at_start=tuple(row[f"s{i}"] for i in months),
        in_service_now=row["now"],
    )


def _churn(cancelled: int, at_start: int) -> Decimal | None:
    if not at_start:
        return None
    return (Decimal(cancelled) * 100 / at_start).quantize(Decimal("0.1"))


def service_figures(flow: ServiceFlow) -> ServiceFigures:
    """This month's and last month's service figures, from the flow (no query)."""
    this_churn = _churn(flow.cancelled[-1], flow.in_service_at_start[-1])
    last_churn = _churn(flow.cancelled[-2], flow.in_service_at_start[-2])
    churn = None
    if this_churn is not None:
        churn = Change(this_churn, last_churn or Decimal(0))
    return ServiceFigures(
        in_service=Change(Decimal(flow.in_service_now), Decimal(flow.in_service_at_start[-1])),
        new=Change(Decimal(flow.new[-1]), Decimal(flow.new[-2])),
        cancelled=Change(Decimal(flow.cancelled[-1]), Decimal(flow.cancelled[-2])),
        churn=churn,
    )


def services_in_service_by_kind(*, at: datetime) -> list[tuple[str, int]]:
    """(product kind's label, services in service) for each kind with any (one query)."""
    rows = (
        _services()
        .filter(_in_service_at(at))
        .values("product__kind")
        .annotate(count=Count("id"))
        .order_by("-count", "product__kind")
    )
    labels = dict(Product.Kind.choices)
    return [(labels.get(row["product__kind"], row["product__kind"]), row["count"]) for row in rows]


@dataclass(frozen=True)
class GroupUtilisation:
    group: str
    servers: int
    offline: int
    used: int
    capacity: int

    @property
    def percent(self) -> Decimal:
        if not self.capacity:
            return Decimal(0)
        return (Decimal(self.used) * 100 / self.capacity).quantize(Decimal("0.1"))


def server_utilisation_by_group() -> list[GroupUtilisation]:
    """Accounts used of the capacity of the active servers, per server group (one query)."""
    rows = (
        Server.objects.filter(is_active=True)
        .values("group__name")
        .annotate(
            servers=Count("id"),
            offline=Count("id", filter=Q(is_online=False)),
            used=Sum("current_accounts"),
            capacity=Sum("capacity_accounts"),
        )
        .order_by("group__name")
    )
    return [
        GroupUtilisation(
            group=row["group__name"] or "No group",
            servers=row["servers"],
            offline=row["offline"],
            used=row["used"] or 0,
            capacity=row["capacity"] or 0,
        )
        for row in rows
    ]


def currency_figures(
    *,
    periods: Periods,
    mrr: dict[str, list[Decimal]],
    revenue: dict[str, dict[str, list[Decimal]]],
    receivables: dict[str, Receivables],
    credit: dict[str, Change],
) -> list[CurrencyFigures]:
    """The money figures per currency that has any, from the queries' results (no query)."""
    zero = Change(Decimal(0), Decimal(0))
    currencies = sorted({*mrr, *revenue, *receivables, *credit})
    result = []
    for currency in currencies:
        points = mrr.get(currency)
        by_gateway = revenue.get(currency, {}).values()
        result.append(
            CurrencyFigures(
                currency=currency,
                mrr=Change(points[-1], points[-2]) if points else zero,
                revenue=Change(
                    sum((months[-1] for months in by_gateway), Decimal(0)),
                    sum((months[-2] for months in by_gateway), Decimal(0)),
                ),
                overdue=receivables[currency].overdue if currency in receivables else zero,
                credit_liability=credit.get(currency, zero),
            )
        )
    return result


# --- Today's attention list ----------------------------------------------------------------

# What may need a person, by key: the rows counted (the dashboard links each key to the
# admin list filtered the same way).
ATTENTION_KEYS = (
    "failed_operations",
    "failed_webhooks",
    "overdue_invoices",
    "overdue_tickets",
    "servers_offline",
    "servers_crowded",
    "token_purchases",
    "cancellation_requests",
)


def _attention_querysets(now: datetime) -> dict[str, Any]:
    return {
        "failed_operations": ProvisioningOperation.objects.filter(
            status=ProvisioningOperation.Status.FAILED
        ),
        "failed_webhooks": WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED),
        "overdue_invoices": Invoice.objects.filter(
            status=Invoice.Status.UNPAID, due_date__lt=timezone.localdate(now)
        ),
        "overdue_tickets": Ticket.objects.filter(
            status__in=TICKET_WAITING, response_due_at__lt=now
        ),
        "servers_offline": Server.objects.filter(is_active=True, is_online=False),
        # The last health check found it 80% full or more (provisioning.services.servers).
        "servers_crowded": Server.objects.filter(is_active=True, capacity_alerted_at__isnull=False),
        "token_purchases": TokenPurchase.objects.filter(status__in=TOKEN_CHECK),
        "cancellation_requests": CancellationRequest.objects.filter(
            status=CancellationRequest.Status.REQUESTED
        ),
    }


def attention_counts(*, now: datetime, keys: Collection[str]) -> dict[str, int]:
    """How many of each of `keys` (of ATTENTION_KEYS) there are (one query each)."""
    querysets = _attention_querysets(now)
    return {key: querysets[key].count() for key in ATTENTION_KEYS if key in keys}
