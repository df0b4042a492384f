"""Client-area invoice pages: list, detail, print, PDF; isolation and query counts."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from django.db import connection
from django.templatetags.static import static
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_customer_isolation
from catalogue.tests.factories import TaxRateFactory
from invoices import documents, services

pytestmark = pytest.mark.django_db

MAX_PAGE_QUERIES = 10


@pytest.fixture
def buyer(settings):
    settings.SELLER_DETAILS = {
        **settings.SELLER_DETAILS,
        "name": "Seller AG",
        "country": "DE",
        "tax_id": "DE136695976",
    }
    TaxRateFactory(country="DE", rate=Decimal("19"))
    TaxRateFactory(country="NL", rate=Decimal("21"))
    return CustomerFactory(
        country="NL", name="Nina Buyer", company="Acme BV", tax_id="NL004495445B01"
    )


def test_list_shows_own_issued_invoices_with_status_filter(
    client, buyer, other_customer, invoice_factory
):
    paid = invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    services.invoice_mark_paid(invoice_id=paid.pk)
    unpaid = invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    services.invoice_create_draft(customer=buyer, currency="EUR", lines=[])  # a draft
    invoice_factory(other_customer, amount="50.00", currency="EUR", description="Line {n}")
    client.force_login(buyer.user)

    everything = client.get(reverse("invoices:invoice_list"))
    assert list(everything.context["invoices"]) == [unpaid, paid]
    only_unpaid = client.get(reverse("invoices:invoice_list"), {"status": "unpaid"})
    assert list(only_unpaid.context["invoices"]) == [unpaid]
    refunded = client.get(reverse("invoices:invoice_list"), {"status": "refunded"})
    assert b"No invoices with this status" in refunded.content
    bogus = client.get(reverse("invoices:invoice_list"), {"status": "draft"})
    assert list(bogus.context["invoices"]) == [unpaid, paid]


def test_list_is_paginated(client, buyer, invoice_factory):
    for _ in range(25):
        invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    client.force_login(buyer.user)
    response = client.get(reverse("invoices:invoice_list"))
    assert len(response.context["invoices"]) == 20
    assert len(client.get(reverse("invoices:invoice_list") + "?page=2").context["invoices"]) == 5


def test_detail_and_print_show_frozen_details_lines_tax_and_totals(client, buyer, invoice_factory):
    invoice = invoice_factory(
        buyer, amount="50.00", lines=2, currency="EUR", description="Line {n}"
    )
    buyer.company = "Renamed BV"
    buyer.save()
    client.force_login(buyer.user)
    for url_name in ("invoices:invoice_detail", "invoices:invoice_print"):
        html = client.get(reverse(url_name, args=[invoice.pk])).content.decode()
        assert invoice.number in html
        assert "Seller AG" in html
        assert "DE136695976" in html
        assert "Acme BV" in html
        assert "Renamed BV" not in html
        assert "Line 0" in html
        assert "Line 1" in html
        assert "€100.00" in html  # total: reverse charge, no VAT
        assert "Reverse charge" in html


def test_pdf_download_contains_the_invoice(client, buyer, invoice_factory):
    invoice = invoice_factory(
        buyer, amount="12.34", lines=3, currency="EUR", description="Line {n}"
    )
    client.force_login(buyer.user)
    response = client.get(reverse("invoices:invoice_pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)
    for expected in (invoice.number, "Seller AG", "Acme BV", "Line 2", "37.02", "Reverse charge"):
        assert expected in text, expected


def test_the_pdf_reads_its_stylesheet_from_the_static_files(buyer, monkeypatch, invoice_factory):
    """The document's styles are a static file (no inline <style>, for the CSP); the PDF
    renderer reads the same file from disk and nothing from anywhere else."""
    read, original = [], documents.static_file_path

    def recording(uri, rel=None):
        read.append((uri, original(uri, rel)))
        return read[-1][1]

    monkeypatch.setattr(documents, "static_file_path", recording)
    documents.invoice_render_pdf(
        invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    )
    assert [uri for uri, _path in read] == [static("css/invoice_document.css")]
    assert Path(read[0][1]).read_text().startswith("/* The invoice document")
    assert documents.static_file_path("https://cdn.example.com/x.css") == ""


def test_the_print_page_prints_with_a_button_not_inline_code(client, buyer, invoice_factory):
    invoice = invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    client.force_login(buyer.user)
    page = client.get(reverse("invoices:invoice_print", args=[invoice.pk])).content.decode()
    assert '<button type="button" data-print>Print this invoice</button>' in page
    assert static("js/print.js") in page
    assert "<style" not in page
    assert "javascript:" not in page


def test_invoice_pages_are_hidden_from_other_customers(
    client, buyer, other_customer, invoice_factory
):
    invoice = invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    assert_customer_isolation(
        client,
        urls=[
            reverse(name, args=[invoice.pk])
            for name in (
                "invoices:invoice_detail",
                "invoices:invoice_print",
                "invoices:invoice_pdf",
            )
        ],
        owner=buyer,
        intruder=other_customer,
    )


def test_drafts_are_not_shown_to_their_customer(client, buyer):
    draft = services.invoice_create_draft(customer=buyer, currency="EUR", lines=[])
    client.force_login(buyer.user)
    assert client.get(reverse("invoices:invoice_detail", args=[draft.pk])).status_code == 404


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_runs_a_constant_number_of_queries(
    client, buyer, django_assert_max_num_queries, invoice_factory
):
    client.force_login(buyer.user)
    url = reverse("invoices:invoice_list")
    invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    one = _queries(client, url)
    for _ in range(49):
        invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        fifty = _queries(client, url + "?page=1")
    assert one == fifty


def test_detail_runs_a_constant_number_of_queries(
    client, buyer, django_assert_max_num_queries, invoice_factory
):
    client.force_login(buyer.user)
    small, large = (
        invoice_factory(buyer, lines=1, amount="50.00", currency="EUR", description="Line {n}"),
        invoice_factory(buyer, lines=50, amount="50.00", currency="EUR", description="Line {n}"),
    )
    one = _queries(client, reverse("invoices:invoice_detail", args=[small.pk]))
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        fifty = _queries(client, reverse("invoices:invoice_detail", args=[large.pk]))
    assert one == fifty


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


@pytest.mark.parametrize(
    "address",
    [
        "1 Example Street\nLondon EC1A 1AA",  # as settings read SELLER_ADDRESS
        "1 Example Street\\nLondon EC1A 1AA",  # frozen on invoices issued before they did
    ],
    ids=["newline", "backslash-n"],
)
def test_the_seller_address_prints_as_lines(client, buyer, settings, address, invoice_factory):
    settings.SELLER_DETAILS = {**settings.SELLER_DETAILS, "address": address}
    invoice = invoice_factory(buyer, amount="50.00", currency="EUR", description="Line {n}")
    client.force_login(buyer.user)
    for name in ("invoices:invoice_detail", "invoices:invoice_print"):
        html = client.get(reverse(name, args=[invoice.pk])).content.decode()
        assert "1 Example Street<br>London EC1A 1AA" in html, name
        assert "\\n" not in html, name
    text = _pdf_text(client.get(reverse("invoices:invoice_pdf", args=[invoice.pk])).content)
    assert "1 Example Street\nLondon EC1A 1AA" in text
