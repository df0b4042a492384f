"""The customer summary in admin: one screen of a customer's profile, services, unpaid
invoices, credit and token balances, payments, audit events and staff notes, in a fixed
number of queries, each section only for staff who may view its model."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from djmoney.money import Money

from accounts.audit import AccountAudit
from accounts.models import StaffNote
from accounts.tests.factories import AuditEventFactory, CustomerFactory, StaffNoteFactory
from accounts.tests.helpers import logged_in, staff_user
from billing.models import TokenPurchase
from billing.selectors import SUMMARY_LIST_LENGTH, token_totals_for_customer
from billing.services import payment_record
from billing_portal.common.testing import usd
from credits.services import credit_entry_append
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

SECTIONS = {  # section id on the page -> the view permission it needs
    "summary-services": "view_service",
    "summary-invoices": "view_invoice",
    "summary-balances": "view_creditaccount",
    "summary-payments": "view_payment",
    "summary-events": "view_auditevent",
    "summary-notes": "view_staffnote",
}


def _summary(customer) -> str:
    return reverse("admin:accounts_customer_summary", args=[customer.pk])


def _fill(customer, invoice_factory, n: int) -> None:
    """`n` of everything the page lists: services, unpaid invoices (each part-paid, so a
    payment each), audit events, notes and token purchases; credit in two currencies."""
    server = ServerFactory()
    for i in range(n):
        service_on(server, customer=customer, status="active", next_due_date=date(2026, 5, 1))
        invoice = invoice_factory(customer, "20.00")
        payment_record(invoice_id=invoice.pk, gateway="manual", reference=f"r-{i}", amount=usd("5"))
        AuditEventFactory(customer=customer, action=AccountAudit.PROFILE_CHANGED)
        StaffNoteFactory(customer=customer, pinned=i % 3 == 0)
        _tokens(customer, "delivered", "100")
    for currency in ("USD", "EUR"):
        credit_entry_append(
            customer=customer,
            amount=Money(Decimal("7" if currency == "USD" else "3"), currency),
            kind="admin_add",
            idempotency_key=f"k-{currency}-{n}",
        )


def _tokens(customer, status: str, tokens: str) -> TokenPurchase:
    return TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status=status,
        tokens=Decimal(tokens),
        rate=Decimal("100"),
        currency="USD",
        amount=usd("0"),
        reason="Goodwill",
    )


# --- Queries ------------------------------------------------------------------------------

# The session, the user and their OTP device (a superuser's permissions are not read), the
# customer, and one read per list: services and their subscriptions, unpaid invoices, amounts
# due, credit accounts, token totals, payments, events, notes.
SUMMARY_QUERIES = 13


@pytest.mark.parametrize("rows", [1, 30])
def test_the_summary_runs_the_same_queries_for_one_and_for_thirty_of_each(
    customer, invoice_factory, django_assert_num_queries, rows
):
    # given
    _fill(customer, invoice_factory, rows)
    staff = logged_in(staff_user(superuser=True))
    # when / then
    with django_assert_num_queries(SUMMARY_QUERIES):
        response = staff.get(_summary(customer))
    assert response.status_code == 200
    summary = response.context["summary"]
    shown = min(rows, SUMMARY_LIST_LENGTH)
    for section in ("services", "unpaid_invoices", "payments", "notes"):
        latest = getattr(summary, section)
        assert len(latest.rows) == shown, section
        assert latest.more is (rows > SUMMARY_LIST_LENGTH), section
    # (events: each invoice and payment has its own too)
    assert summary.events.more is (rows > SUMMARY_LIST_LENGTH)


def test_the_summary_shows_each_section_with_links_to_the_customers_own_lists(
    customer, invoice_factory
):
    # given: the customer's things, and another customer's
    _fill(customer, invoice_factory, 12)
    other = CustomerFactory()
    _fill(other, invoice_factory, 1)
    _tokens(customer, "uncertain", "50")
    staff = logged_in(staff_user(superuser=True))
    # when
    response = staff.get(_summary(customer))
    page = response.content.decode()
    # then
    assert customer.name in page
    assert customer.user.email in page
    summary = response.context["summary"]
    assert [due.amount for due in summary.amounts_due] == [usd("180.00")]  # 12 x (20 - 5)
    assert sorted(str(b) for b in summary.credit_balances) == sorted(["$7.00", "€3.00"])
    assert summary.tokens.added == Decimal("1200")
    assert summary.tokens.needs_checking == 50
    assert "1200 added through the portal" in page
    assert "50 need checking" in page
    pinned = [note.pinned for note in summary.notes.rows]
    assert pinned == sorted(pinned, reverse=True)  # pinned first
    links = response.context["links"]
    assert set(links) == {"services", "invoices", "credit", "tokens", "payments", "events", "notes"}
    for name, link in links.items():
        assert link in page.replace("&amp;", "&"), name
        listed = staff.get(link)
        assert listed.status_code == 200, name
        rows = listed.context["cl"].result_list
        assert rows, name
        assert all(row.customer_id == customer.pk for row in rows), name
    unpaid = staff.get(links["invoices"]).context["cl"].result_list
    assert {invoice.status for invoice in unpaid} == {"unpaid"}


def test_the_token_balance_is_read_from_the_portals_records_never_from_virtfusion(
    customer, virtfusion, mocked, staff_client
):
    # given: VirtFusion configured, no call to it allowed (mocked fails on any)
    _tokens(customer, "delivered", "300")
    _tokens(customer, "removed", "100")
    _tokens(customer, "awaiting_payment", "900")
    # when
    response = staff_client.get(_summary(customer))
    # then
    assert response.status_code == 200
    assert len(mocked.calls) == 0
    assert cache.get(f"credits:token-balance:{customer.pk}") is None
    totals = token_totals_for_customer(customer=customer)
    assert (totals.added, totals.taken_back, totals.in_progress) == (300, 100, 0)
    assert "300 added through the portal (worth $3.00)" in response.content.decode()


def test_an_empty_customer_gets_empty_states(customer, staff_client):
    page = staff_client.get(_summary(customer)).content.decode()
    for text in ("No services.", "Nothing unpaid.", "No payments.", "No notes yet."):
        assert text in page
    assert "None added through the portal." in page


# --- Permissions --------------------------------------------------------------------------


def test_the_summary_needs_the_view_customer_permission(customer):
    for codenames in ((), ("view_service", "view_invoice", "view_staffnote")):
        assert logged_in(staff_user(*codenames)).get(_summary(customer)).status_code == 403


def test_a_staff_user_who_may_only_view_customers_sees_the_profile_alone(customer):
    StaffNoteFactory(customer=customer, body="Secret staff note")
    response = logged_in(staff_user("view_customer")).get(_summary(customer))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="summary-profile"' in page
    assert not [section for section in SECTIONS if f'id="{section}"' in page]
    assert "Secret staff note" not in page


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_section_is_shown_to_staff_who_may_view_its_model(customer, section):
    page = logged_in(staff_user("view_customer", SECTIONS[section])).get(_summary(customer))
    shown = [name for name in SECTIONS if f'id="{name}"' in page.content.decode()]
    assert shown == [section]


def test_tokens_are_shown_to_staff_who_may_view_token_purchases(customer):
    _tokens(customer, "delivered", "100")
    page = logged_in(staff_user("view_customer", "view_tokenpurchase")).get(_summary(customer))
    assert "100 added through the portal" in page.content.decode()
    assert "Account credit" not in page.content.decode()


def test_staff_who_may_view_notes_but_not_add_them_get_no_form_and_cannot_post(customer):
    staff = logged_in(staff_user("view_customer", "view_staffnote"))
    page = staff.get(_summary(customer)).content.decode()
    assert 'id="summary-notes"' in page
    assert "Add note" not in page
    assert staff.post(_summary(customer), {"body": "Hello"}).status_code == 403
    assert not StaffNote.objects.exists()


def test_unknown_customers_are_404(staff_client):
    url = reverse("admin:accounts_customer_summary", args=[987654])
    assert staff_client.get(url).status_code == 404
    assert staff_client.post(url, {"body": "x"}).status_code == 404


def test_customers_cannot_open_the_summary(client, customer):
    client.force_login(customer.user)
    response = client.get(_summary(customer))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- Adding a note ------------------------------------------------------------------------


def test_staff_add_a_pinned_note_from_the_summary(customer):
    staff = logged_in(staff_user("view_customer", "view_staffnote", "add_staffnote"))
    response = staff.post(_summary(customer), {"body": "Call before renewals", "pinned": "on"})
    assert response.status_code == 302
    assert response["Location"] == _summary(customer)
    note = StaffNote.objects.get()
    assert (note.customer, note.body, note.pinned) == (customer, "Call before renewals", True)
    page = staff.get(_summary(customer)).content.decode()
    assert "The note was added." in page
    assert "Call before renewals" in page


@pytest.mark.parametrize(
    "body", ["", "   ", "\x00", "esc \x1b[2J", "\u202etxt.exe", "x" * 10_000, None]
)
def test_a_bad_note_is_refused_with_a_message_and_changes_nothing(customer, staff_client, body):
    data = {} if body is None else {"body": body}
    response = staff_client.post(_summary(customer), data)
    assert response.status_code == 200
    assert response.context["note_form"].errors
    assert 'class="errorlist' in response.content.decode()
    assert not StaffNote.objects.exists()


def test_markup_in_a_note_is_shown_as_text(customer, staff_client):
    staff_client.post(_summary(customer), {"body": "<script>alert(1)</script>"})
    page = staff_client.get(_summary(customer)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- Where it is linked from --------------------------------------------------------------


def test_the_customer_list_and_page_link_to_the_summary(customer):
    staff = logged_in(staff_user("view_customer"))
    changelist = staff.get(reverse("admin:accounts_customer_changelist")).content.decode()
    change = staff.get(reverse("admin:accounts_customer_change", args=[customer.pk]))
    assert _summary(customer) in changelist
    assert _summary(customer) in change.content.decode()
