"""Invoice documents: the printable HTML page and the PDF rendered from the same template."""

from __future__ import annotations

from io import BytesIO

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
    result = pisa.CreatePDF(invoice_render_html(invoice, for_pdf=True), dest=output)
    if result.err:
        raise DocumentRenderError(f"PDF rendering of {invoice} failed with {result.err} errors.")
    return output.getvalue()


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'invoice-{invoice.pk}'}.pdf"
