"""A hand-built business with known answers, for the dashboard's tests (and its browser
test). "Now" is NOW: 2026-06-15 12:00 UTC; this month is June, the previous one May.

The answers, worked out by hand:
- MRR USD now 35.00 (monthly 10, quarterly 30/3, annual 120/12 suspended, monthly 5 new in
  June; one-time, pending and terminated ones not), at June 1 50.00 (plus the monthly 20
  terminated on June 5). EUR now 19.99 (monthly 9.99, semi-annual 60/6), at June 1 19.99.
- Services in service now 7 (game 3, VPS 2, web hosting 2), at June 1 7, at May 1 8; new in
  June 1, in May 1; terminated in June 1, in May 2; churn June 14.3%, May 25.0%.
- Revenue USD June 150.00 (stripe 100, manual 50; paid with credit not counted), May 70.00;
  EUR June 40.00 (paypal, received at the very start of June).
- Overdue USD now 350.00; by age 0-30: 100.00 (1), 31-60: 160.00 (2), 61-90: 50.00 (2),
  over 90: 40.00 (1) (invoices 30, 31, 60, 61, 90, 91 days past due); one due today is not
  overdue. At June 1: 850.00 (also one paid on June 5, whole). EUR now 80.00, June 1 0.
- Credit held USD now 40.00, June 1 50.00; EUR 15.00 both.
- Servers: Alpha 10 of 20 accounts (50%, one offline), Beta 9 of 10 (90%, alerted).
- Attention: 1 failed operation, 1 failed webhook event, 7 overdue invoices, 1 ticket past
  its target, 1 server offline, 1 above 80%, 1 token purchase to check, 1 cancellation.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory
from billing.models import TokenPurchase
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from credits.models import CreditAccount, CreditEntry
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from provisioning.models import (
    CancellationRequest,
    ProvisioningOperation,
    Server,
    ServerGroup,
    Service,
)
from support.models import Department, Ticket

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def service(
    customer: Customer,
    product: Product,
    cycle: str,
    amount: str,
    status: str = "active",
    *,
    currency: str = "USD",
    activated: str | None = "2026-01-10",
    terminated: str | None = None,
) -> Service:
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle=cycle,
        currency=currency,
        recurring_amount=Decimal(amount),
        status=status,
        created_at=at(activated or "2026-01-01"),
        activated_at=at(activated) if activated and status != "pending" else None,
        terminated_at=at(terminated) if terminated else None,
    )


def invoice(
    customer: Customer,
    total: str,
    due: date,
    *,
    status: str = "unpaid",
    paid: str = "0",
    currency: str = "USD",
    paid_at: datetime | None = None,
) -> Invoice:
    number = next(_numbers)
    return Invoice.objects.create(
        customer=customer,
        currency=currency,
        status=status,
        number=f"T-{number}",
        series="T",
        sequence_number=number,
        subtotal=Decimal(total),
        discount_total=Decimal(0),
        tax_total=Decimal(0),
        total=Decimal(total),
        amount_paid=Decimal(paid),
        amount_refunded=Decimal(0),
        issued_at=at("2026-01-01"),
        due_date=due,
        paid_at=paid_at,
    )


def payment(
    inv: Invoice, gateway: str, amount: str, received: datetime, method: str = "card"
) -> Payment:
    return Payment.objects.create(
        invoice=inv,
        customer=inv.customer,
        gateway=gateway,
        reference=f"ref-{next(_numbers)}",
        method=method,
        status="applied",
        currency=inv.currency,
        amount=Decimal(amount),
        fee=Decimal(0),
        amount_refunded=Decimal(0),
        received_at=received,
    )


def credit(customer: Customer, currency: str, *moves: tuple[str, str]) -> CreditAccount:
    """An account with entries (amount, day); its cached balance is the last one's."""
    account = CreditAccount.objects.create(customer=customer, currency=currency, balance=Decimal(0))
    balance = Decimal(0)
    for sequence, (amount, day) in enumerate(moves, start=1):
        after = balance + Decimal(amount)
        CreditEntry.objects.create(
            account=account,
            sequence=sequence,
            kind="admin_add",
            currency=currency,
            amount=Decimal(amount),
            balance_before=balance,
            balance_after=after,
            idempotency_key=f"k{sequence}",
            created_at=at(day),
        )
        balance = after
    CreditAccount.objects.filter(pk=account.pk).update(balance=balance, last_sequence=len(moves))
    return account


def build_business() -> dict[str, Any]:
    customer, other = CustomerFactory(), CustomerFactory()
    game = ProductFactory(kind=Product.Kind.GAME_SERVER)
    vps = ProductFactory(kind=Product.Kind.VPS)
    web = ProductFactory(kind=Product.Kind.WEB_HOSTING)
    svc = {
        "A": service(customer, game, "monthly", "10"),
        "B": service(customer, game, "quarterly", "30", activated="2026-02-01"),
        "C": service(customer, game, "annual", "120", "suspended", activated="2026-03-01"),
        "D": service(customer, vps, "one_time", "50", activated="2026-01-01"),
        "E": service(
            other,
            vps,
            "monthly",
            "20",
            "terminated",
            activated="2026-01-05",
            terminated="2026-06-05",
        ),
        "F": service(other, vps, "monthly", "5", activated="2026-06-10"),
        "G": service(other, vps, "monthly", "99", "pending", activated=None),
        "H": service(
            other,
            web,
            "monthly",
            "7",
            "terminated",
            activated="2026-02-01",
            terminated="2026-05-20",
        ),
        "K": service(
            other,
            web,
            "monthly",
            "3",
            "terminated",
            activated="2026-01-01",
            terminated="2026-05-25",
        ),
        "I": service(customer, web, "monthly", "9.99", currency="EUR", activated="2026-04-01"),
        "J": service(customer, web, "semiannual", "60", currency="EUR", activated="2026-05-15"),
    }
    today = NOW.date()
    overdue = [
        invoice(customer, "100", today - timedelta(days=30)),
        invoice(customer, "200", today - timedelta(days=31), paid="50"),
        invoice(customer, "10", today - timedelta(days=60)),
        invoice(customer, "20", today - timedelta(days=61)),
        invoice(customer, "30", today - timedelta(days=90)),
        invoice(customer, "40", today - timedelta(days=91)),
        invoice(customer, "80", today - timedelta(days=14), currency="EUR"),
    ]
    invoice(customer, "1000", today)  # due today: not overdue yet
    paid_late = invoice(
        customer, "500", date(2026, 5, 1), status="paid", paid="500", paid_at=at("2026-06-05")
    )
    paid = invoice(customer, "245", date(2026, 5, 1), status="paid", paid="245")
    eur_paid = invoice(customer, "40", date(2026, 5, 1), status="paid", paid="40", currency="EUR")
    payment(paid, "stripe", "100", at("2026-06-03"))
    payment(paid, "manual", "50", at("2026-06-10"), method="bank_transfer")
    payment(paid, "stripe", "70", at("2026-05-20"))
    payment(paid_late, "credit", "25", at("2026-06-05"), method="credit")
    payment(eur_paid, "paypal", "40", at("2026-06-01", hour=0), method="paypal")

    credit(customer, "USD", ("50", "2026-05-10"), ("-20", "2026-06-03"))
    credit(other, "USD", ("10", "2026-06-02"))
    credit(customer, "EUR", ("15", "2026-05-01"))

    alpha, beta = ServerGroup.objects.create(name="Alpha"), ServerGroup.objects.create(name="Beta")
    servers = {
        "s1": _server(alpha, "s1", 8),
        "s2": _server(alpha, "s2", 2, is_online=False),
        "s3": _server(beta, "s3", 9, capacity_alerted_at=NOW),
        "s4": _server(beta, "s4", 0, is_active=False, is_online=False),
    }
    failed_op = ProvisioningOperation.objects.create(
        service=svc["A"], kind="create", idempotency_key="op-failed", status="failed"
    )
    ProvisioningOperation.objects.create(
        service=svc["A"], kind="suspend", idempotency_key="op-ok", status="succeeded"
    )
    WebhookEvent.objects.create(
        provider="stripe", event_id="evt_1", event_type="x", body="{}", status="failed"
    )
    WebhookEvent.objects.create(
        provider="stripe", event_id="evt_2", event_type="x", body="{}", status="processed"
    )
    desk = Department.objects.create(name="Desk", email="desk@example.com")
    for hours, status in ((-1, "open"), (-1, "awaiting_customer"), (5, "open")):
        Ticket.objects.create(
            customer=customer,
            department=desk,
            subject=f"{status} {hours}",
            status=status,
            response_hours=4,
            response_due_at=NOW + timedelta(hours=hours),
        )
    for status in ("uncertain", "delivered"):
        TokenPurchase.objects.create(
            customer=customer,
            source="staff",
            status=status,
            tokens=Decimal("100"),
            rate=Decimal("100"),
            currency="USD",
            amount=Decimal(0),
        )
    CancellationRequest.objects.create(
        service=svc["A"],
        customer=customer,
        kind="end_of_period",
        reason="not_needed",
        effective_on=date(2026, 7, 1),
        currency="USD",
    )
    return {"services": svc, "overdue": overdue, "servers": servers, "failed_op": failed_op}


def _server(group: ServerGroup, name: str, used: int, **fields: Any) -> Server:
    return Server.objects.create(
        group=group,
        module="sandbox",
        name=name,
        base_url=f"https://{name}.example.test",
        capacity_accounts=10,
        current_accounts=used,
        **fields,
    )
