"""A hand-built set of books with known answers for the reports and exports tests.

In USD, September and October 2026 (the range RANGE), unless said otherwise:

invoice  customer  issued  paid    lines (net / tax)               payment
I1       DE        10-05   10-06   Minecraft 100 / 19 (VAT 19%)    stripe 119 on 10-06, 19 refunded
I2       DE        10-10   11-02   VPS S 50 / 9.50 (VAT 19%)       paypal 59.50 on 11-02 (outside)
I3       FR (RC)   10-12   10-12   VPS S 220 - 20 discount / 0     stripe 200 on 10-12
I4       US        09-20   09-21   account credit 30 / 0 (no tax)  manual 30 on 09-21
I5       DE        09-25   unpaid  Minecraft 10 / 1.90, due 10-01  stripe 5 held on 10-15
plus, to be left out: a EUR invoice paid in October, a cancelled and a draft invoice, and a
token purchase's draft invoice. Credit note CN1 of 19 on I1 (10-20) and the gateway's refund of
19 (10-20). Ledger (US customer): +30 purchase 09-21, -10 staff removal 10-03, +5 staff 11-04.
Tokens: a purchase of 1,000 tokens for 10 awaiting payment, a staff grant of 500 delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from djmoney.money import Money

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory, UserFactory
from billing.models import TokenPurchase
from catalogue.tests.factories import ProductFactory, ProductGroupFactory
from credits.models import CreditAccount, CreditEntry
from invoices.models import CreditNote, Invoice, InvoiceLine
from payments.models import Payment, RefundRequest
from provisioning.models import Service

START, END = date(2026, 9, 1), date(2026, 10, 31)
RANGE = {"start": "2026-09-01", "end": "2026-10-31", "currency": "USD"}
D = Decimal


def at(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass
class Books:
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)


_numbers = iter(range(1, 10_000))


def invoice(
    customer: Customer,
    *,
    issued: datetime | None,
    lines: list[tuple[Service | None, str, str, str]],  # (service, amount, discount, tax)
    status: str = Invoice.Status.PAID,
    paid: datetime | None = None,
    currency: str = "USD",
    tax_name: str = "",
    tax_rate: str = "0",
    reverse_charge: bool = False,
    due: date | None = None,
    kind: str = Invoice.Kind.ORDER,
) -> Invoice:
    amount = sum((D(line[1]) for line in lines), D(0))
    discount = sum((D(line[2]) for line in lines), D(0))
    tax = sum((D(line[3]) for line in lines), D(0))
    total = amount - discount + tax
    number = next(_numbers)

    def m(value: Decimal) -> Money:
        return Money(value, currency)

    made = Invoice.objects.create(
        customer=customer,
        kind=kind,
        status=status,
        series="INV" if issued else "",
        sequence_number=number if issued else None,
        number=f"INV-{number:05d}" if issued else None,
        currency=currency,
        subtotal=m(amount),
        discount_total=m(discount),
        tax_total=m(tax),
        total=m(total),
        amount_paid=m(total if paid else D(0)),
        amount_refunded=m(D(0)),
        tax_name=tax_name,
        tax_rate=D(tax_rate),
        reverse_charge=reverse_charge,
        buyer_details={"name": customer.name, "company": "", "country": customer.country.code},
        due_date=due,
        created_at=issued or at(10, 1),
        issued_at=issued,
        paid_at=paid,
    )
    for position, (service, line_amount, line_discount, line_tax) in enumerate(lines):
        net = D(line_amount) - D(line_discount)
        InvoiceLine.objects.create(
            invoice=made,
            kind=InvoiceLine.Kind.SERVICE if service else InvoiceLine.Kind.CREDIT,
            description=f"{service.product.name if service else 'Account credit'}",
            service=service,
            period_start=(issued or at(10, 1)).date() if service else None,
            currency=currency,
            unit_price=m(D(line_amount)),
            amount=m(D(line_amount)),
            discount=m(D(line_discount)),
            tax=m(D(line_tax)),
            total=m(net + D(line_tax)),
            position=position,
        )
    return made


def payment(
    target: Invoice,
    *,
    gateway: str,
    amount: str,
    received: datetime,
    status: str = Payment.Status.APPLIED,
    method: str = Payment.Method.CARD,
) -> Payment:
    return Payment.objects.create(
        invoice=target,
        customer=target.customer,
        gateway=gateway,
        reference=f"{gateway}-{target.pk}-{amount}",
        method=method,
        status=status,
        currency=target.currency,
        amount=Money(D(amount), target.currency),
        fee=Money(D("0"), target.currency),
        amount_refunded=Money(D("0"), target.currency),
        received_at=received,
        created_at=received,
    )


def service(customer: Customer, product: Any, status: str = Service.Status.ACTIVE) -> Service:
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(D("10"), "USD"),
        status=status,
        created_at=at(9, 15),
    )


def _ledger(customer: Customer) -> None:
    account = CreditAccount.objects.create(
        customer=customer, currency="USD", balance=Money(D("25"), "USD"), last_sequence=3
    )
    balance = D(0)
    for sequence, (kind, amount, when) in enumerate(
        [
            ("purchase", "30", at(9, 21)),
            ("admin_remove", "-10", at(10, 3)),
            ("admin_add", "5", at(11, 4)),
        ],
        start=1,
    ):
        after = balance + D(amount)
        CreditEntry.objects.create(
            account=account,
            sequence=sequence,
            kind=kind,
            currency="USD",
            amount=Money(D(amount), "USD"),
            balance_before=Money(balance, "USD"),
            balance_after=Money(after, "USD"),
            idempotency_key=f"books-{sequence}",
            created_at=when,
        )
        balance = after


def _tokens(customer: Customer) -> None:
    token_invoice = invoice(
        customer,
        issued=None,
        lines=[(None, "10", "0", "0")],
        status=Invoice.Status.DRAFT,
        kind=Invoice.Kind.TOKEN_PURCHASE,
    )
    TokenPurchase.objects.create(
        customer=customer,
        source=TokenPurchase.Source.PURCHASE,
        invoice=token_invoice,
        status=TokenPurchase.Status.AWAITING_PAYMENT,
        tokens=D("1000"),
        rate=D("100"),
        currency="USD",
        amount=Money(D("10"), "USD"),
        created_at=at(10, 8),
    )
    TokenPurchase.objects.create(
        customer=customer,
        source=TokenPurchase.Source.STAFF,
        status=TokenPurchase.Status.DELIVERED,
        tokens=D("500"),
        rate=D("100"),
        currency="USD",
        amount=Money(D("0"), "USD"),
        created_at=at(10, 9),
    )


def books() -> Books:
    made = Books()
    de = CustomerFactory(country="DE", name="Anna Becker", created_at=at(9, 2))
    fr = CustomerFactory(country="FR", name="=HYPERLINK(1)", created_at=at(8, 2))
    us = CustomerFactory(country="US", name="Sam Jones", created_at=at(10, 2))
    made.customers = {"de": de, "fr": fr, "us": us}
    minecraft = ProductFactory(name="Minecraft 4GB", group=ProductGroupFactory(name="Game servers"))
    vps = ProductFactory(name="VPS S", group=ProductGroupFactory(name="VPS"))
    mc_de, vps_de, vps_fr = service(de, minecraft), service(de, vps), service(fr, vps)
    service(us, vps, Service.Status.SUSPENDED)
    vat = {"tax_name": "VAT", "tax_rate": "19"}
    i1 = invoice(de, issued=at(10, 5), paid=at(10, 6), lines=[(mc_de, "100", "0", "19")], **vat)
    i2 = invoice(de, issued=at(10, 10), paid=at(11, 2), lines=[(vps_de, "50", "0", "9.50")], **vat)
    i3 = invoice(
        fr,
        issued=at(10, 12),
        paid=at(10, 12),
        lines=[(vps_fr, "220", "20", "0")],
        reverse_charge=True,
    )
    i4 = invoice(
        us,
        issued=at(9, 20),
        paid=at(9, 21),
        lines=[(None, "30", "0", "0")],
        kind=Invoice.Kind.CREDIT_PURCHASE,
    )
    i5 = invoice(
        de,
        issued=at(9, 25),
        status=Invoice.Status.UNPAID,
        due=date(2026, 10, 1),
        lines=[(mc_de, "10", "0", "1.90")],
        **vat,
    )
    made.invoices = {"I1": i1, "I2": i2, "I3": i3, "I4": i4, "I5": i5}
    p1 = payment(i1, gateway="stripe", amount="119", received=at(10, 6))
    made.payments = {
        "P1": p1,
        "P2": payment(i2, gateway="paypal", amount="59.50", received=at(11, 2)),
        "P3": payment(i3, gateway="stripe", amount="200", received=at(10, 12)),
        "P4": payment(
            i4,
            gateway="manual",
            amount="30",
            received=at(9, 21),
            method=Payment.Method.BANK_TRANSFER,
        ),
        "P5": payment(
            i5, gateway="stripe", amount="5", received=at(10, 15), status=Payment.Status.HELD
        ),
    }
    # left out: another currency, a cancelled and a draft invoice
    eur = invoice(
        de, issued=at(10, 7), paid=at(10, 7), currency="EUR", lines=[(None, "70", "0", "0")]
    )
    payment(eur, gateway="stripe", amount="70", received=at(10, 7))
    invoice(de, issued=at(10, 8), status=Invoice.Status.CANCELLED, lines=[(None, "40", "0", "0")])
    invoice(de, issued=None, status=Invoice.Status.DRAFT, lines=[(None, "40", "0", "0")])
    # I1's partial refund: the credit note and the gateway's refund
    Invoice.objects.filter(pk=i1.pk).update(
        status=Invoice.Status.PARTIALLY_REFUNDED, amount_refunded=D("19")
    )
    Payment.objects.filter(pk=p1.pk).update(
        status=Payment.Status.PARTIALLY_REFUNDED, amount_refunded=D("19")
    )
    note_number = next(_numbers)
    CreditNote.objects.create(
        invoice=i1,
        customer=de,
        series="CN",
        sequence_number=note_number,
        number=f"CN-{note_number:05d}",
        currency="USD",
        amount=Money(D("19"), "USD"),
        reason="Goodwill",
        issued_at=at(10, 20),
    )
    RefundRequest.objects.create(
        payment=p1,
        status=RefundRequest.Status.SUCCEEDED,
        currency="USD",
        amount=Money(D("19"), "USD"),
        reason="Goodwill",
        reference="re_1",
        requested_by=UserFactory(is_staff=True),
        created_at=at(10, 20),
    )
    _ledger(us)
    _tokens(us)
    return made
