"""Customer API: ordering (the catalogue, pricing a cart, placing an order) and an invoice's
PDF, through the selectors and services the order pages and the invoice page use
(billing/views/catalogue.py, invoices.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, renderers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.models import ApiKey
from billing import services as billing
from billing.api import orders_api_serializers as io
from billing.api.views import CustomerApi
from billing_portal.common.api_errors import ErrorSerializer
from billing_portal.common.request import RequestMeta
from catalogue.models import Order, Product
from catalogue.selectors import catalogue_products_for_currency, product_get_orderable
from invoices.documents import invoice_pdf_filename, invoice_render_pdf
from invoices.selectors import invoice_get_for_customer, order_invoice

REFUSED = {400: ErrorSerializer}


@extend_schema_view(
    get=extend_schema(
        operation_id="catalogue_retrieve",
        responses=io.CatalogueSerializer,
        description="Products on sale with their prices per billing cycle in your currency.",
    )
)
class CatalogueApi(CustomerApi):
    def get(self, request: Request) -> Response:
        currency = self.customer.preferred_currency
        products = catalogue_products_for_currency(currency=currency)
        return Response(io.CatalogueSerializer({"currency": currency, "products": products}).data)


class CartApi(CustomerApi):
    """A cart in the request's body, as the order page configures it."""

    def order_request(self, request: Request) -> billing.OrderRequest:
        serializer = io.CartInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            product = product_get_orderable(slug=data["product"])
        except Product.DoesNotExist as exc:
            raise exceptions.ValidationError({"product": ["No such product."]}) from exc
        return billing.OrderRequest(
            product=product,
            cycle=data["cycle"],
            currency=self.customer.preferred_currency,
            option_quantities=data["options"],
            coupon_code=data["coupon_code"],
            domain=data["domain"],
            hostname=data["hostname"],
        )


@extend_schema_view(
    post=extend_schema(
        operation_id="order_quote",
        request=io.CartInput,
        responses={200: io.QuoteSerializer, **REFUSED},
        description="Price a cart exactly as its first invoice will be; nothing is written.",
    )
)
class OrderQuoteApi(CartApi):
    def post(self, request: Request) -> Response:
        quote = billing.order_quote(customer=self.customer, request=self.order_request(request))
        return Response(io.QuoteSerializer(quote_data(quote)).data)


def quote_data(quote: billing.Quote) -> dict[str, Any]:
    lines = [{**line.__dict__, **amounts.__dict__} for line, amounts in quote.rows]
    return {
        "product": quote.request.product.slug,
        "cycle": quote.request.cycle,
        "lines": lines,
        **quote.totals.__dict__,
        "tax_name": quote.tax.name,
        "tax_rate": quote.tax.rate,
        "coupon": quote.coupon.code if quote.coupon else None,
        "recurring_amount": quote.recurring_amount,
        "recurring_total": quote.recurring_total,
        "domain": quote.domain,
        "hostname": quote.hostname,
        "trial_days": quote.trial.days if quote.trial else 0,
        "trial_ends_on": quote.trial.ends_on if quote.trial else None,
        "trial_text": quote.trial_text,
    }


@extend_schema_view(
    post=extend_schema(
        operation_id="order_place",
        request=io.CartInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: io.OrderSerializer, **REFUSED, 409: ErrorSerializer, 422: ErrorSerializer},
        description=(
            "Place the order: a pending service and an invoice due today (pay it to start "
            "the service; a free trial's invoice is zero, paid at once, and the service "
            "starts). Needs the `services` scope and an Idempotency-Key."
        ),
    )
)
class OrderPlaceApi(IdempotentMixin, CartApi):
    required_scope = ApiKey.Scope.SERVICES

    def idempotent_post(self, request: Request) -> Response:
        order = billing.order_place(
            customer=self.customer,
            request=self.order_request(request),
            meta=RequestMeta.from_request(request),
            idempotency_key=self.idempotency_reference,
        )
        return Response(io.OrderSerializer(order_data(order)).data, status=status.HTTP_201_CREATED)


def order_data(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "status": order.status,
        "created_at": order.created_at,
        "services": list(order.services.order_by("pk").values_list("pk", flat=True)),
        "invoice": order_invoice(order),
    }


class PdfRenderer(renderers.BaseRenderer):
    """Lets a client ask for `application/pdf`; the PDF itself is sent as it is, and an
    error (a dict) still goes out as the one JSON error shape."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"  # DRF set the PDF type already
        return renderers.JSONRenderer().render(data)


@extend_schema_view(
    get=extend_schema(
        operation_id="invoice_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The invoice as the client area's PDF."
            ),
            (404, "application/json"): ErrorSerializer,
        },
    )
)
class InvoicePdfApi(CustomerApi):
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    def get(self, request: Request, pk: int) -> HttpResponse:
        invoice = invoice_get_for_customer(customer=self.customer, invoice_id=self.object_id())
        response = HttpResponse(invoice_render_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
        return response
