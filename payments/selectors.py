"""Payment reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from invoices.models import Invoice
from payments.models import GatewaySubscription, Payment, PaymentAttempt, SavedPaymentMethod


def payment_list_for_customer(*, customer: Customer) -> QuerySet[Payment]:
    """The customer's payments, newest first (the order of an index on customer)."""
    payments = Payment.objects.filter(customer=customer).select_related("invoice")
    return payments.order_by("-received_at", "-id")


def saved_cards_for_invoice(*, invoice: Invoice) -> list[SavedPaymentMethod]:
    """The customer's saved cards, offered on an unpaid invoice while a gateway that charges
    them with the customer present is on."""
    from payments.gateways import registry
    from payments.gateways.base import OnSessionCharge

    if invoice.status != "unpaid" or registry.gateway_with(OnSessionCharge) is None:
        return []
    return list(card_list_for_customer(customer=invoice.customer))


def pay_methods_for_invoice(*, invoice: Invoice) -> list[tuple[str, str]]:
    """(gateway name, label) of each enabled method the customer can pay this invoice with."""
    from payments.gateways.registry import CHECKOUT_LABELS, checkout_gateways_enabled

    if invoice.status != "unpaid":
        return []
    return [(name, CHECKOUT_LABELS[name]) for name in checkout_gateways_enabled()]


def card_list_for_customer(*, customer: Customer) -> QuerySet[SavedPaymentMethod]:
    cards = SavedPaymentMethod.objects.filter(customer=customer)
    return cards.order_by("-is_default", "-created_at", "-id")


# --- Staff (the staff API; the role's permission is the caller's to check) -------------------


def payment_list_for_staff() -> QuerySet[Payment]:
    """Every payment, newest first (on the received-at index)."""
    return Payment.objects.select_related("invoice", "customer").order_by("-received_at", "-id")


def payment_get_for_staff(*, payment_id: int) -> Payment:
    """One payment; Payment.DoesNotExist for an unknown id."""
    return Payment.objects.select_related("invoice", "customer").get(pk=payment_id)


def payment_get_for_customer(*, customer: Customer, payment_id: int) -> Payment:
    """One of the customer's payments; Payment.DoesNotExist for anyone else's."""
    return Payment.objects.select_related("invoice").get(customer=customer, pk=payment_id)


def checkout_get_for_customer(
    *, customer: Customer, checkout_id: int, invoice_kind: str | None = None
) -> PaymentAttempt:
    """One of the customer's hosted checkouts that reached its provider (one the provider
    never answered has no reference, so there is nothing to confirm), optionally only one
    paying an invoice of `invoice_kind`; PaymentAttempt.DoesNotExist otherwise."""
    attempts = PaymentAttempt.objects.select_related("invoice").filter(
        customer=customer, kind=PaymentAttempt.Kind.CHECKOUT, invoice__isnull=False
    )
    if invoice_kind is not None:
        attempts = attempts.filter(invoice__kind=invoice_kind)
    return attempts.exclude(reference="").get(pk=checkout_id)


def card_setup_get_for_customer(*, customer: Customer, setup_id: int) -> PaymentAttempt:
    """One of the customer's card set-ups that reached its provider."""
    return (
        PaymentAttempt.objects.filter(customer=customer, kind=PaymentAttempt.Kind.CARD_SETUP)
        .exclude(reference="")
        .get(pk=setup_id)
    )


def subscription_list_for_customer(*, customer: Customer) -> QuerySet[GatewaySubscription]:
    """The customer's automatic-payment subscriptions, newest first (live and ended)."""
    subscriptions = GatewaySubscription.objects.filter(customer=customer)
    return subscriptions.select_related("plan").order_by("-created_at", "-id")


def card_fingerprints_of(*, customer: Customer) -> list[str]:
    """The provider fingerprints of the customer's saved cards (those that have one)."""
    cards = SavedPaymentMethod.objects.filter(customer=customer).exclude(fingerprint="")
    return sorted(set(cards.values_list("fingerprint", flat=True)))


def card_holders_of(*, fingerprints: list[str]) -> list[int]:
    """Ids of the customers who have a card with one of these fingerprints saved."""
    if not fingerprints:
        return []
    cards = SavedPaymentMethod.objects.filter(fingerprint__in=fingerprints)
    return sorted(set(cards.values_list("customer_id", flat=True)))
