"""Client-area ordering: catalogue → configure → review → place; cancel an unpaid order.

The pages show the catalogue; quoting, placing and cancelling the order are billing's ordering
flow, so the pages live here (they were catalogue's until issue 13); templates stay under
catalogue/."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from accounts.mixins import CustomerRequiredMixin, NotWhileActingMixin
from billing import services as billing
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta
from catalogue.forms import OrderForm
from catalogue.models import Order, Product
from catalogue.selectors import (
    catalogue_for_currency,
    order_get_for_customer,
    product_get_orderable,
)
from invoices.selectors import order_invoice


class CatalogueView(CustomerRequiredMixin, TemplateView):
    template_name = "catalogue/catalogue.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["groups"] = catalogue_for_currency(currency=self.customer.preferred_currency)
        return context


class ProductOrderView(NotWhileActingMixin, CustomerRequiredMixin, View):
    """GET: the configuration form. POST: review the priced order, or place it when the
    customer confirms (`place` in the form); the service prices it again either way."""

    acting_refused_methods = ("POST",)
    acting_refused_what = "place orders"
    acting_refused_redirect = "orders:catalogue"

    def _product(self) -> Product:
        try:
            return product_get_orderable(slug=self.kwargs["slug"])
        except Product.DoesNotExist as exc:
            raise Http404("No such product.") from exc

    def _render(self, template: str, **context) -> HttpResponse:
        return render(self.request, f"catalogue/{template}", context)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = self._product()
        form = OrderForm(product=product, currency=self.customer.preferred_currency)
        return self._render("order_configure.html", product=product, form=form)

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = self._product()
        currency = self.customer.preferred_currency
        form = OrderForm(request.POST, product=product, currency=currency)
        if not form.is_valid():
            return self._render("order_configure.html", product=product, form=form)
        order_request = billing.OrderRequest(
            product=product,
            cycle=form.cleaned_data["cycle"],
            currency=currency,
            option_quantities=form.option_quantities(),
            coupon_code=form.cleaned_data["coupon_code"],
            domain=form.cleaned_data.get("domain", ""),
            hostname=form.cleaned_data.get("hostname", ""),
        )
        try:
            if "place" in request.POST:
                order = billing.order_place(
                    customer=self.customer,
                    request=order_request,
                    meta=RequestMeta.from_request(request),
                )
                messages.success(request, "Thank you! Your order is placed; pay it to start.")
                return redirect("invoices:invoice_detail", pk=order_invoice(order).pk)
            quote = billing.order_quote(customer=self.customer, request=order_request)
        except DomainError as error:  # pricing, stock, coupons, server capacity
            form.add_error(None, error.message)
            return self._render("order_configure.html", product=product, form=form)
        return self._render("order_review.html", product=product, form=form, quote=quote)


class OrderCancelView(CustomerRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            order = order_get_for_customer(customer=self.customer, order_id=pk)
        except Order.DoesNotExist as exc:
            raise Http404("No such order.") from exc
        try:
            billing.order_cancel(
                order_id=order.pk, actor=request.user, meta=RequestMeta.from_request(request)
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Order #{order.pk} is cancelled.")
        invoice = order_invoice(order)
        return redirect("invoices:invoice_detail", pk=invoice.pk) if invoice else redirect("/")
