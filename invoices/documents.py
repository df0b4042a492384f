"""Invoice documents: the printable HTML page and the PDF rendered from the same template."""

from __future__ import annotations

from io import BytesIO

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template.loader import render_to_string
from xhtml2pdf import pisa

from invoices.models import Invoice


class DocumentRenderError(Exception):
    pass


def invoice_render_html(invoice: Invoice, *, for_pdf: bool = False) -> str:
    return render_to_string(
        "invoices/invoice_document.html", {"invoice": invoice, "for_pdf": for_pdf}
    )


def invoice_render_pdf(invoice: Invoice) -> bytes:
    output = BytesIO()
    result = pisa.CreatePDF(
        invoice_render_html(invoice, for_pdf=True), dest=output, link_callback=static_file_path
    )
    if result.err:
        raise DocumentRenderError(f"PDF rendering of {invoice} failed with {result.err} errors.")
    return output.getvalue()


def static_file_path(uri: str, rel: str | None = None) -> str:
    """Where xhtml2pdf reads a file the document links to (its stylesheet): our static files
    only, from the source folders or, in production, the collected (hashed) copies; anything
    else is not read at all, so rendering never reaches the network."""
    if not uri.startswith(settings.STATIC_URL):
        return ""
    name = uri.removeprefix(settings.STATIC_URL)
    return finders.find(name) or staticfiles_storage.path(name)


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'invoice-{invoice.pk}'}.pdf"
