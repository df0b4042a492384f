"""A customer's data rights across the apps: the archive of everything the portal holds about
a customer, and staff erasing a customer. Accounts keeps the export's life and the profile's
anonymising (accounts/data_rights.py); this module knows what every app holds.

The archive (a ZIP): profile.json, services.json, invoices.json with each invoice as a PDF
(the invoice document renderer), payments.json, credit_ledger.json, token_purchases.json,
audit_events.json and a README.txt saying what each is.

Erasure, in order: the customer's services are ended (live ones terminated through their
panel operations, unstarted ones cancelled), and erasure refuses until every panel has
confirmed; saved cards are removed at their gateway; then the personal data is anonymised.
Invoices, payments, the credit ledger and the audit log are kept as the law requires:
invoices keep the buyer details frozen when they were issued.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from djmoney.money import Money

from accounts import data_rights as accounts_data
from accounts.models import Customer, DataExport, User
from accounts.selectors import audit_event_list_for_customer
from billing.selectors import token_purchases_for_customer
from billing.services.ordering import order_cancel
from billing_portal.common.audit import AuditEvent
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta
from catalogue.errors import OrderNotCancellable
from credits.selectors import credit_entries_for_customer
from invoices.documents import invoice_pdf_filename, invoice_render_pdf
from invoices.models import Invoice
from invoices.selectors import invoice_list_for_customer
from payments.selectors import card_list_for_customer, payment_list_for_customer
from payments.services import cards_remove_all
from provisioning import services as provisioning
from provisioning.models import LIVE_STATUSES, ProvisioningOperation, Service
from provisioning.selectors import service_list_for_customer

logger = logging.getLogger(__name__)

ERASURE_REASON = "Customer data erasure"
OPEN_OPERATIONS = (
    ProvisioningOperation.Status.PENDING,
    ProvisioningOperation.Status.RUNNING,
    ProvisioningOperation.Status.FAILED,
    ProvisioningOperation.Status.UNCERTAIN,
)
README = """\
Your data at {portal}, as of {when} (UTC).

profile.json          your account and billing profile
services.json         your services, past and present
invoices.json         your invoices; invoices/ holds each one as a PDF
payments.json         payments received from you
credit_ledger.json    every change of your account credit
token_purchases.json  VPS token purchases
audit_events.json     the record of what you and our staff did on your account
"""


# --- The archive ----------------------------------------------------------------------------


def _money(value: Money | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"amount": str(value.amount), "currency": str(value.currency)}


def _profile(customer: Customer) -> dict[str, Any]:
    user = customer.user
    return {
        "email": user.email,
        "email_verified_at": user.email_verified_at,
        "date_joined": user.date_joined,
        "name": customer.name,
        "company": customer.company,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "city": customer.city,
        "region": customer.region,
        "postal_code": customer.postal_code,
        "country": str(customer.country.code or ""),
        "phone": str(customer.phone or ""),
        "tax_id": customer.tax_id,
        "tax_exempt": customer.tax_exempt,
        "preferred_currency": customer.preferred_currency,
        "credit_auto_apply": customer.credit_auto_apply,
        "created_at": customer.created_at,
    }


def _services(customer: Customer) -> list[dict[str, Any]]:
    # Panel credentials stay out: the archive travels by an emailed link.
    return [
        {
            "id": service.pk,
            "product": service.product.name,
            "cycle": service.cycle,
            "status": service.status,
            "domain": service.domain,
            "hostname": service.hostname,
            "username": service.username,
            "panel_url": service.panel_url,
            "next_due_date": service.next_due_date,
            "created_at": service.created_at,
            "activated_at": service.activated_at,
            "suspended_at": service.suspended_at,
            "terminated_at": service.terminated_at,
            "cancelled_at": service.cancelled_at,
        }
        for service in service_list_for_customer(customer=customer)
    ]


def _invoice_row(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "status": invoice.status,
        "issued_at": invoice.issued_at,
        "due_date": invoice.due_date,
        "paid_at": invoice.paid_at,
        "subtotal": _money(invoice.subtotal),
        "tax_total": _money(invoice.tax_total),
        "total": _money(invoice.total),
        "amount_paid": _money(invoice.amount_paid),
        "amount_refunded": _money(invoice.amount_refunded),
        "buyer_details": invoice.buyer_details,
        "pdf": f"invoices/{invoice_pdf_filename(invoice)}",
    }


def _payments(customer: Customer) -> list[dict[str, Any]]:
    return [
        {
            "invoice": payment.invoice.number if payment.invoice else None,
            "gateway": payment.gateway,
            "method": payment.method,
            "reference": payment.reference,
            "status": payment.status,
            "amount": _money(payment.amount),
            "amount_refunded": _money(payment.amount_refunded),
            "received_at": payment.received_at,
        }
        for payment in payment_list_for_customer(customer=customer)
    ]


def _ledger(customer: Customer) -> list[dict[str, Any]]:
    return [
        {
            "created_at": entry.created_at,
            "kind": entry.kind,
            "amount": _money(entry.amount),
            "balance_after": _money(entry.balance_after),
            "description": entry.description,
            "reason": entry.reason,
        }
        for entry in credit_entries_for_customer(customer=customer)
    ]


def _token_purchases(customer: Customer) -> list[dict[str, Any]]:
    return [
        {
            "created_at": purchase.created_at,
            "status": purchase.status,
            "source": purchase.source,
            "tokens": purchase.tokens,
            "amount": _money(purchase.amount),
            "invoice": purchase.invoice.number if purchase.invoice else None,
            "delivered_at": purchase.delivered_at,
        }
        for purchase in token_purchases_for_customer(customer=customer)
    ]


def _actor(event: AuditEvent, customer: Customer) -> str:
    """Who acted, without naming staff members (their identity is their own data)."""
    if event.actor_id is None:
        return "system"
    return "you" if event.actor_id == customer.user_id else "staff"


def _audit_events(customer: Customer) -> list[dict[str, Any]]:
    return [
        {
            "created_at": event.created_at,
            "action": event.action,
            "description": event.get_action_display(),
            "by": _actor(event, customer),
            "object_type": event.object_type,
            "object_id": event.object_id,
            "ip_address": event.ip_address,
            "user_agent": event.user_agent,
            "details": event.details,
        }
        for event in audit_event_list_for_customer(customer=customer).iterator()
    ]


def _json(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def data_export_archive(*, customer: Customer, portal: str, when: str) -> bytes:
    """The ZIP of everything the portal holds about the customer."""
    buffer = io.BytesIO()
    invoices = list(invoice_list_for_customer(customer=customer).prefetch_related("lines"))
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(portal=portal, when=when))
        archive.writestr("profile.json", _json(_profile(customer)))
        archive.writestr("services.json", _json(_services(customer)))
        archive.writestr("invoices.json", _json([_invoice_row(i) for i in invoices]))
        for invoice in invoices:
            archive.writestr(
                f"invoices/{invoice_pdf_filename(invoice)}", invoice_render_pdf(invoice)
            )
        archive.writestr("payments.json", _json(_payments(customer)))
        archive.writestr("credit_ledger.json", _json(_ledger(customer)))
        archive.writestr("token_purchases.json", _json(_token_purchases(customer)))
        archive.writestr("audit_events.json", _json(_audit_events(customer)))
    return buffer.getvalue()


def data_export_build(*, export_id: int, portal: str, when: str) -> DataExport | None:
    """Build a queued export (once: a duplicate message finds it claimed and does nothing).
    A failure marks it failed, so the customer can ask again, and is raised for the log."""
    export = accounts_data.data_export_claim(export_id=export_id)
    if export is None:
        return None
    try:
        content = data_export_archive(customer=export.customer, portal=portal, when=when)
        return accounts_data.data_export_store(export=export, content=content)
    except Exception as error:
        accounts_data.data_export_fail(
            export_id=export_id, error=f"{type(error).__name__}: {error}"
        )
        raise


# --- Erasure --------------------------------------------------------------------------------


class ErasureBlocked(DomainError):
    code = "erasure_blocked"
    default_message = "The customer cannot be erased yet."


@dataclass(frozen=True)
class ErasureState:
    """What stands between a customer and their erasure (the confirmation page shows it)."""

    live_services: list[Service]
    open_operations: int
    saved_cards: int
    erased: bool

    @property
    def blocked(self) -> str:
        """Why erasure must wait, or "" when it can go ahead."""
        if self.live_services:
            return (
                f"{len(self.live_services)} service(s) are not ended yet: end them first "
                "(terminated on their panel, or cancelled if they never started)."
            )
        if self.open_operations:
            return (
                f"{self.open_operations} panel operation(s) of this customer's services are "
                "not confirmed yet (queued, running or failed): wait for the panels, or "
                "resolve the failed ones in Provisioning operations."
            )
        return ""


def customer_erasure_state(*, customer: Customer) -> ErasureState:
    live = list(
        Service.objects.filter(customer=customer, status__in=LIVE_STATUSES)
        .select_related("product")
        .order_by("pk")
    )
    open_operations = ProvisioningOperation.objects.filter(
        service__customer=customer, status__in=OPEN_OPERATIONS
    ).count()
    return ErasureState(
        live_services=live,
        open_operations=open_operations,
        saved_cards=card_list_for_customer(customer=customer).count(),
        erased=customer.erased_at is not None,
    )


def _end_one(service: Service, actor: User) -> bool:
    """End a service before erasure: whether it was ended (one being set up must finish
    first; it is left, and erasure keeps refusing until it can be terminated)."""
    S = Service.Status
    if service.status in (S.ACTIVE, S.SUSPENDED):
        provisioning.service_terminate(
            service_id=service.pk, reason=ERASURE_REASON, actor=actor, email=False
        )
        return True
    if service.status == S.PENDING and service.order_id is not None:
        try:  # an unpaid order: its invoice is cancelled with it
            order_cancel(order_id=service.order_id, actor=actor)
            return True
        except OrderNotCancellable:
            pass
    if service.status in (S.PENDING, S.FAILED):
        provisioning.service_cancel(service_id=service.pk, actor=actor, reason=ERASURE_REASON)
        return True
    return False


def customer_services_end(*, customer: Customer, actor: User) -> int:
    """Erasure's first step: terminate the customer's live services through their panel
    operations (each in its own transaction, as staff terminating them one by one would)
    and cancel the unstarted ones. Safe to repeat. Returns how many it ended."""
    state = customer_erasure_state(customer=customer)
    return sum(_end_one(service, actor) for service in state.live_services)


def customer_erase(*, customer_id: int, actor: User, meta: RequestMeta | None = None) -> Customer:
    """Erase a customer whose services are all ended and confirmed by their panels: remove
    their saved cards at the gateway, then anonymise their personal data (accounts). Refuses
    with ErasureBlocked while anything is still live. Erasing twice changes nothing."""
    customer = Customer.objects.select_related("user").get(pk=customer_id)
    if customer.erased_at is not None:
        return customer
    state = customer_erasure_state(customer=customer)
    if state.blocked:
        raise ErasureBlocked(state.blocked)
    # Outside a transaction: each card is a provider call, and a card removed stays removed.
    cards = cards_remove_all(customer=customer)
    return accounts_data.customer_anonymise(
        customer_id=customer_id, actor=actor, meta=meta, details={"cards_removed": cards}
    )
