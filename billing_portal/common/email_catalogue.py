"""Every email the portal sends, with the variables its context offers and a sample value
for each: what the admin lists beside an override, what its preview and test send render,
and the only names an override may use (billing_portal/common/email_sandbox.py).

A new email needs its three templates under templates/emails/ and an entry here; the test
billing_portal/tests/test_email_overrides.py checks that the two agree. `portal_name` and
`portal_base_url` are in every email's context (billing_portal/common/emails.py).
"""

from __future__ import annotations

from typing import Any

COMMON_VARIABLES: dict[str, Any] = {
    "portal_name": "Example Hosting",
    "portal_base_url": "https://portal.example.com",
}

_CUSTOMER = {"customer_name": "Jane Doe"}
_INVOICE = {"number": "INV-2026-0042", "invoice_path": "/invoices/42/"}
_SERVICE = {"service": "Game server #7 (mc.example.com)"}

EMAIL_VARIABLES: dict[str, dict[str, Any]] = {
    "account_data_export_ready": {
        **_CUSTOMER,
        "days": 7,
        "download_url": "https://portal.example.com/account/export/abc/",
    },
    "account_email_change_confirm": {
        "email": "jane@example.com",
        "confirm_url": "https://portal.example.com/accounts/email/confirm/abc/",
        "hours": 24,
    },
    "account_email_changed": {
        "email": "jane@example.com",
        "new_email": "jane.doe@example.net",
        "ip_address": "203.0.113.9",
        "done": True,
    },
    "account_password_changed": {"email": "jane@example.com", "ip_address": "203.0.113.9"},
    "account_password_reset": {
        "email": "jane@example.com",
        "reset_url": "https://portal.example.com/accounts/reset/abc/",
    },
    "account_second_factor_changed": {
        "email": "jane@example.com",
        "ip_address": "203.0.113.9",
        "change": "enabled",
    },
    "account_verify_email": {
        "email": "jane@example.com",
        "verify_url": "https://portal.example.com/accounts/verify/abc/",
    },
    "cancellation_completed": {
        **_CUSTOMER,
        **_SERVICE,
        "effective_on": "2026-12-31",
        "refund": "USD 4.50",
    },
    "cancellation_requested": {
        **_CUSTOMER,
        **_SERVICE,
        "effective_on": "2026-12-31",
        "kind": "end_of_period",
        "service_path": "/services/7/",
    },
    "cancellation_withdrawn": {**_CUSTOMER, **_SERVICE, "service_path": "/services/7/"},
    "card_expiring": {
        **_CUSTOMER,
        "card": "Visa ending 4242",
        "expires": "December 2026",
        "cards_path": "/payments/cards/",
    },
    "credit_added": {
        **_CUSTOMER,
        "amount": "USD 25.00",
        "balance": "USD 40.00",
        "billing_path": "/billing/",
    },
    "credit_note_issued": {
        **_CUSTOMER,
        "number": "CN-2026-0003",
        "amount": "USD 10.00",
        "reason": "Duplicate charge",
        "invoice_number": "INV-2026-0042",
        "invoice_path": "/invoices/42/",
    },
    "dns_notice": {
        **_CUSTOMER,
        "subject_line": "Your DNS plan is nearly full",
        "text": "Your zones use 9 of the 10 records your plan includes.",
        "billing_path": "/billing/",
    },
    "invoice_issued": {**_CUSTOMER, **_INVOICE, "total": "USD 12.00", "due_date": "2026-12-15"},
    "invoice_payment_action_required": {**_CUSTOMER, **_INVOICE, "amount_due": "USD 12.00"},
    "invoice_payment_failed": {
        **_CUSTOMER,
        **_INVOICE,
        "amount_due": "USD 12.00",
        "message": "Your card was declined.",
        "next_try": "2026-12-18",  # the next automatic try (dunning); empty after the last
    },
    "invoice_reminder": {
        **_CUSTOMER,
        **_INVOICE,
        "amount_due": "USD 12.00",
        "due_date": "2026-12-15",
        "overdue": False,
        "due_today": False,
        "final": False,
    },
    "order_confirmation": {
        **_CUSTOMER,
        "order_id": 42,
        "product": "Minecraft 4 GB",
        "total": "USD 12.00",
        "invoice_number": "INV-2026-0042",
        "invoice_path": "/invoices/42/",
    },
    "payment_receipt": {
        **_CUSTOMER,
        **_INVOICE,
        "amount": "USD 12.00",
        "gateway": "card",
        "reference": "PAY-12345",
        "received_at": "2026-12-04 10:15 UTC",
        "balance_due": "USD 0.00",
    },
    "service_suspended": {
        **_CUSTOMER,
        **_SERVICE,
        "reason": "Invoice INV-2026-0042 overdue",
        "service_path": "/services/7/",
    },
    "service_terminated": {
        **_CUSTOMER,
        **_SERVICE,
        "reason": "Invoice INV-2026-0042 overdue",
        "service_path": "/services/7/",
    },
    "service_unsuspended": {
        **_CUSTOMER,
        **_SERVICE,
        "reason": "Invoice INV-2026-0042 paid",
        "service_path": "/services/7/",
    },
    "service_welcome": {
        **_CUSTOMER,
        **_SERVICE,
        "panel_url": "https://panel.example.com/",
        "username": "jane7",
        "service_path": "/services/7/",
    },
    "support_announcement": {
        "title": "Maintenance on 10 December",
        "body": "The panel is unavailable from 02:00 to 03:00 UTC.",
        "essential": False,
        "link_path": "/announcements/3/",
        "unsubscribe_path": "/announcements/unsubscribe/abc/",
    },
    "support_ticket": {
        "ticket_number": "T-1042",
        "subject_line": "Server does not start",
        "intro": "Our team replied to your ticket.",
        "body": "Please try again now.",
        "link_label": "View the ticket",
        "link_path": "/support/tickets/1042/",
        "reply_hint": "Reply to this email to answer.",
    },
    "tokens_added": {**_CUSTOMER, "tokens": 1000, "billing_path": "/billing/"},
}


def email_names() -> list[str]:
    return sorted(EMAIL_VARIABLES)


def email_sample_context(name: str) -> dict[str, Any]:
    """The preview's and test send's context: every variable of `name` with its sample."""
    return {**COMMON_VARIABLES, **EMAIL_VARIABLES[name]}


def email_variable_names(name: str) -> set[str]:
    return set(COMMON_VARIABLES) | set(EMAIL_VARIABLES[name])
