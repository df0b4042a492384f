"""Account-credit ledger writes.

`credit_entry_append` is the only function that writes ledger entries. It locks the
account row first, so concurrent writers queue on it, and it is idempotent: a retry with the
same key (derived from the source, e.g. `invoice:42:auto-apply`) returns the first entry
instead of writing a second. On PostgreSQL a write is one statement (APPEND_SQL: lock, insert,
balance), so the row is held for no Python at all when the caller has no transaction open,
and for the rest of the caller's transaction otherwise. Lock order across apps: credit
account, then invoice, then payment (DESIGN.md), which paying with credit
(billing.services.credit) follows. The ledger knows no invoice or payment: callers name the
source in the key and the description.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.core.mail import mail_admins
from django.db import connections, router, transaction
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.utils import timezone
from djmoney.money import Money

from accounts.email_preferences import OptionalEmail, email_wanted
from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from billing_portal.common.webhooks import WebhookEventType, webhook_atomic, webhook_emit
from credits.audit import CreditAudit
from credits.errors import CreditsError, InsufficientCredit, InvalidCreditAmount
from credits.locks import ACCOUNT_LOCK_SQL, credit_account_lock, credit_account_locked
from credits.models import CreditAccount, CreditEntry

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
AMOUNT_LIMIT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)  # what a column holds
METADATA = CreditEntry._meta.get_field("metadata")
ENTRY_FIELDS = CreditEntry._meta.concrete_fields


def credit_amount_parse(
    value: Any,
    *,
    currency: str,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Money:
    """A positive amount in ASCII digits with at most two decimals (within `minimum` and
    `maximum`), or InvalidCreditAmount saying what is wrong. Decimal() would also read
    exponents ("1e308"), other scripts' digits, NaN and Infinity: none is an amount here."""
    text = str(value).strip()
    if not AMOUNT.fullmatch(text):
        raise InvalidCreditAmount("That is not an amount: enter a number such as 25 or 12.50.")
    amount = Decimal(text)
    if amount <= 0:
        raise InvalidCreditAmount("The amount must be more than zero.")
    if maximum is not None and amount > maximum:
        raise InvalidCreditAmount(f"The amount can be at most {maximum} {currency}.")
    if amount >= AMOUNT_LIMIT:
        raise InvalidCreditAmount(f"The amount must be less than {AMOUNT_LIMIT} {currency}.")
    if amount != amount.quantize(CENT):
        raise InvalidCreditAmount("The amount can have at most two decimals.")
    if minimum is not None and amount < minimum:
        raise InvalidCreditAmount(f"The amount must be at least {minimum} {currency}.")
    return Money(amount, currency)


# One round trip: lock the account row (the account table alone), append the entry unless
# the key was used or the balance would go negative, and move the cached balance, in one
# statement. The balance moves only with an entry inserted (the UPDATE reads the INSERT's
# RETURNING), so a duplicate key writes nothing at all. No row back: the account does not
# exist yet, the key was used, or the credit is short; the locked path sorts those out.
APPEND_SQL = f"""
WITH account AS ({ACCOUNT_LOCK_SQL}),
entry AS (
    INSERT INTO credits_creditentry (
        account_id, sequence, kind, currency, amount, balance_before, balance_after,
        description, payment_reference, staff_user_id, reason, metadata, idempotency_key,
        created_at
    )
    SELECT id, last_sequence + 1, %(kind)s, %(currency)s, %(amount)s, balance,
        balance + %(amount)s, %(description)s, %(payment_reference)s, %(staff_user)s,
        %(reason)s, %(metadata)s, %(idempotency_key)s, %(now)s
    FROM account
    WHERE balance + %(amount)s >= 0
    ON CONFLICT (account_id, idempotency_key) DO NOTHING
    RETURNING *
),
moved AS (
    UPDATE credits_creditaccount SET
        balance = entry.balance_after, last_sequence = entry.sequence, updated_at = %(now)s
    FROM entry
    WHERE credits_creditaccount.id = entry.account_id
)
SELECT {", ".join(str(field.column) for field in ENTRY_FIELDS)} FROM entry
"""  # noqa: S608 (constants; every value is a parameter)


@retry_on_conflict
def credit_entry_append(
    *,
    customer: Customer,
    amount: Money,
    kind: str,
    idempotency_key: str,
    description: str = "",
    payment_reference: str = "",
    staff_user: User | None = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
) -> CreditEntry:
    """Append one signed entry to the customer's ledger in `amount`'s currency."""
    entry, _ = _append(
        customer=customer,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        description=description,
        payment_reference=payment_reference,
        staff_user=staff_user,
        reason=reason,
        metadata=metadata,
    )
    return entry


def _webhook_fields(customer: Customer, entry: CreditEntry) -> dict[str, Any]:
    """What outbound webhooks say about a ledger entry (billing_portal/common/webhooks.py)."""
    return {
        "customer_id": customer.pk,
        "kind": entry.kind,
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "description": entry.description,
    }


def _append(*, customer: Customer, amount: Money, **fields: Any) -> tuple[CreditEntry, bool]:
    """The entry and whether this call wrote it (False: the key's first entry). On
    PostgreSQL one statement, which is its own transaction when no caller opened one;
    elsewhere, and on the rare paths, the account is locked first (_append_locked)."""
    if amount.amount == 0:
        raise InvalidCreditAmount("A credit entry cannot be zero.")
    if amount.amount != amount.amount.quantize(CENT):
        raise InvalidCreditAmount("The amount can have at most two decimals.")
    # Every entry written is reported to outbound webhooks, in its transaction.
    with webhook_atomic(WebhookEventType.CREDIT_CHANGED):
        entry, written = _append_once(customer=customer, amount=amount, **fields)
        if written:
            webhook_emit(WebhookEventType.CREDIT_CHANGED, entry, **_webhook_fields(customer, entry))
    return entry, written


def _append_once(*, customer: Customer, amount: Money, **fields: Any) -> tuple[CreditEntry, bool]:
    using = router.db_for_write(CreditEntry)
    if connections[using].vendor == "postgresql":
        entry = _append_in_one_statement(customer=customer, amount=amount, using=using, **fields)
        if entry is not None:
            return entry, True
    return _append_locked(customer=customer, amount=amount, **fields)


def _append_in_one_statement(
    *,
    customer: Customer,
    amount: Money,
    using: str,
    staff_user: User | None,
    metadata: dict[str, Any] | None,
    **fields: Any,
) -> CreditEntry | None:
    params = {
        "customer": customer.pk,
        "currency": str(amount.currency),
        "amount": amount.amount,
        "staff_user": staff_user.pk if staff_user is not None else None,
        "metadata": METADATA.get_db_prep_save(metadata or {}, connections[using]),
        "now": timezone.now(),
        **fields,
    }
    with connections[using].cursor() as cursor:
        cursor.execute(APPEND_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    entry = _entry_from_row(row, using)
    credit_account_locked(entry.account_id, using=using)
    return entry


def _entry_from_row(row: tuple[Any, ...], using: str) -> CreditEntry:
    """The entry from its row as a queryset would build it (the fields' own converters,
    then from_db), without a raw queryset's work of matching columns to fields each time."""
    connection = connections[using]
    compiler = connection.ops.compiler("SQLCompiler")(Query(CreditEntry), connection, using)
    table = CreditEntry._meta.db_table
    converters = compiler.get_converters([field.get_col(table) for field in ENTRY_FIELDS])
    (values,) = compiler.apply_converters([row], converters) if converters else (row,)
    return CreditEntry.from_db(using, [field.attname for field in ENTRY_FIELDS], values)


@transaction.atomic
def _append_locked(
    *,
    customer: Customer,
    amount: Money,
    kind: str,
    idempotency_key: str,
    description: str,
    payment_reference: str,
    staff_user: User | None,
    reason: str,
    metadata: dict[str, Any] | None,
) -> tuple[CreditEntry, bool]:
    """The account locked (created on the first entry in its currency), then the key's
    first entry, the refusal of an overdraft, or the entry written with the ORM."""
    currency = str(amount.currency)
    account = credit_account_lock(customer, currency)
    existing = account.entries.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    after = account.balance + amount
    if after.amount < 0:
        raise InsufficientCredit(
            f"Not enough credit: {-amount} needed, {account.balance} available."
        )
    sequence = account.last_sequence + 1
    entry = CreditEntry.objects.create(
        account=account,
        sequence=sequence,
        kind=kind,
        currency=currency,
        amount=amount,
        balance_before=account.balance,
        balance_after=after,
        description=description,
        payment_reference=payment_reference,
        staff_user=staff_user,
        reason=reason,
        metadata=metadata or {},
        idempotency_key=idempotency_key,
    )
    account.balance, account.last_sequence = after, sequence
    account.save(update_fields=["balance", "last_sequence", "updated_at"])
    return entry, True


@retry_on_conflict
@transaction.atomic
def credit_add(
    *,
    customer: Customer,
    amount: Money,
    kind: str,
    idempotency_key: str,
    description: str,
    details: dict[str, Any],
    payment_reference: str = "",
    staff_user: User | None = None,
    reason: str = "",
    action: CreditAudit = CreditAudit.CREDIT_ADDED,
) -> CreditEntry:
    """Credit from one source (a purchase, an overpayment, a refund, a downgrade), with its
    audit event: a retry with the same key returns the first entry and records nothing."""
    entry, written = _append(
        customer=customer,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        description=description,
        payment_reference=payment_reference,
        staff_user=staff_user,
        reason=reason,
        metadata=None,
    )
    if written:
        audit_record(
            action=action,
            actor=staff_user,
            customer=customer,
            target=entry,
            details={"amount": str(amount), **details},
        )
    return entry


# --- Staff --------------------------------------------------------------------------------


def _staff_change(
    *, customer: Customer, amount: Money, reason: str, staff: User, request_key: str, add: bool
) -> CreditEntry:
    if not reason.strip():
        raise CreditsError("Give the reason: it is kept with the entry.")
    with transaction.atomic():
        entry, written = _append(
            customer=customer,
            amount=amount if add else -amount,
            kind=CreditEntry.Kind.ADMIN_ADD if add else CreditEntry.Kind.ADMIN_REMOVE,
            idempotency_key=f"staff:{request_key}",
            description="Added by staff" if add else "Removed by staff",
            payment_reference="",
            staff_user=staff,
            reason=reason.strip(),
            metadata=None,
        )
        if not written:  # the same form submitted again: the first entry, nothing more
            return entry
        audit_record(
            action=CreditAudit.CREDIT_ADDED if add else CreditAudit.CREDIT_REMOVED,
            actor=staff,
            customer=customer,
            target=entry,
            details={"amount": str(amount), "reason": reason.strip()},
        )
        if add:
            _credit_added_email(customer, entry)
    return entry


def _credit_added_email(customer: Customer, entry: CreditEntry) -> None:
    # Staff's reason is an internal note (kept with the entry), so it is not in the email.
    if not email_wanted(customer=customer, kind=OptionalEmail.ACCOUNT_UPDATE):
        return
    email_send_on_commit(
        to=[customer.user.email],
        name="credit_added",
        context={
            "customer_name": customer.name,
            "amount": str(entry.amount),
            "balance": str(entry.balance_after),
            "billing_path": "/billing/",
        },
    )


def credit_add_by_staff(
    *, customer: Customer, amount: Money, reason: str, staff: User, request_key: str
) -> CreditEntry:
    return _staff_change(
        customer=customer,
        amount=amount,
        reason=reason,
        staff=staff,
        request_key=request_key,
        add=True,
    )


def credit_remove_by_staff(
    *, customer: Customer, amount: Money, reason: str, staff: User, request_key: str
) -> CreditEntry:
    try:
        return _staff_change(
            customer=customer,
            amount=amount,
            reason=reason,
            staff=staff,
            request_key=request_key,
            add=False,
        )
    except InsufficientCredit as exc:
        balance = credit_balance(customer=customer, currency=str(amount.currency))
        raise InsufficientCredit(f"Cannot remove {amount}: the balance is only {balance}.") from exc


# --- Spending -----------------------------------------------------------------------------


def credit_balance(*, customer: Customer, currency: str) -> Money:
    # order_by(): the model's ordering by customer would join the customer row for nothing
    account = CreditAccount.objects.filter(customer=customer, currency=currency).order_by().first()
    return account.balance if account else Money(0, currency)


def credit_downgrade_add(
    *, customer: Customer, amount: Money, change_id: int, description: str
) -> CreditEntry:
    """The prorated difference of a downgrade, as account credit; once per plan change.
    The caller locked the credit account first (lock order)."""
    return credit_add(
        customer=customer,
        amount=amount,
        kind=CreditEntry.Kind.DOWNGRADE_CREDIT,
        idempotency_key=f"service-change:{change_id}:downgrade",
        description=description,
        details={"source": "downgrade", "service_change": change_id},
    )


# --- Reconciliation -----------------------------------------------------------------------


def credits_reconcile() -> list[dict[str, str]]:
    """Check that every cached balance equals the sum of its entries and the last entry's
    balance_after; report mismatches to staff. Returns the mismatches. One query, however
    many accounts: the database compares, and only the accounts that differ come back."""
    entries = CreditEntry.objects.filter(account=OuterRef("pk")).order_by()
    zero = Value(Decimal(0), output_field=DecimalField())
    total = entries.values("account").annotate(total=Sum("amount")).values("total")
    last = entries.order_by("-sequence").values("balance_after")[:1]
    differ = (
        CreditAccount.objects.select_related("customer")
        .annotate(
            cached=F("balance"),
            total=Coalesce(Subquery(total), zero),
            last_after=Coalesce(Subquery(last), zero),
        )
        .filter(~Q(cached=F("total")) | ~Q(cached=F("last_after")))
    )
    mismatches = [
        {
            "account": str(account.pk),
            "customer": str(account.customer),
            "cached": str(account.balance.amount),
            "sum": str(Decimal(account.total).quantize(CENT)),
            "last_entry": str(Decimal(account.last_after).quantize(CENT)),
        }
        for account in differ
    ]
    if mismatches:
        lines = "\n".join(str(m) for m in mismatches)
        logger.error("credit ledger mismatches: %s", lines)
        mail_admins("Credit ledger mismatch", f"Cached balances differ from entries:\n{lines}")
    return mismatches
