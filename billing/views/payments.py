"""Client-area payment pages: history, paying an invoice at a provider, coming back. They
settle invoices through billing, so they are billing's (they were payments' until issue 13);
templates stay under payments/."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView, TemplateView

from accounts.mixins import CustomerRequiredMixin, NotWhileActingMixin
from billing import services as billing
from billing_portal.common.forms import TokenField
from billing_portal.common.request import RequestMeta
from invoices.models import Invoice
from invoices.selectors import invoice_get_for_customer
from payments import services
from payments.errors import PaymentsError
from payments.gateways import registry
from payments.gateways.base import SavedCards
from payments.models import PaymentAttempt, SavedPaymentMethod
from payments.selectors import card_list_for_customer, payment_list_for_customer

REFERENCE = TokenField(max_length=255)


def _reference_or_404(request: HttpRequest, parameter: str) -> str:
    """The provider's reference in the URL the customer came back by. A missing or malformed
    one is nothing of this customer's (an empty one would match the checkouts the provider
    never answered), so it is not found, and no provider is asked."""
    try:
        return REFERENCE.clean(request.GET.get(parameter, ""))
    except ValidationError as exc:
        raise Http404("No such payment.") from exc


class PaymentListView(CustomerRequiredMixin, ListView):
    template_name = "payments/payment_list.html"
    context_object_name = "payments"
    paginate_by = 20

    def get_queryset(self):
        return payment_list_for_customer(customer=self.customer)


class CheckoutBeginView(NotWhileActingMixin, CustomerRequiredMixin, View):
    acting_refused_what = "pay invoices"

    def post(self, request: HttpRequest, pk: int, gateway: str) -> HttpResponse:
        try:
            invoice = invoice_get_for_customer(customer=self.customer, invoice_id=pk)
        except Invoice.DoesNotExist as exc:
            raise Http404("No such invoice.") from exc
        try:
            url = services.checkout_begin(
                invoice=invoice, gateway_name=gateway, base_url=request.build_absolute_uri("/")
            )
        except PaymentsError as error:
            messages.error(request, error.message)
            return redirect("invoices:invoice_detail", pk=invoice.pk)
        return redirect(url)


class CheckoutReturnView(CustomerRequiredMixin, View):
    """The customer is back from the provider's page: confirm the payment now."""

    gateway = ""
    reference_parameter = ""

    def get(self, request: HttpRequest) -> HttpResponse:
        reference = _reference_or_404(request, self.reference_parameter)
        try:
            attempt = billing.checkout_complete(
                customer=self.customer,
                gateway_name=self.gateway,
                reference=reference,
                meta=RequestMeta.from_request(request),
            )
        except PaymentAttempt.DoesNotExist as exc:
            raise Http404("No such payment.") from exc
        except PaymentsError as error:
            messages.warning(request, error.message)
            return redirect("payments:payment_list")
        if attempt.status == PaymentAttempt.Status.COMPLETED:
            messages.success(request, "Thank you! Your payment was received.")
        else:
            messages.warning(request, "The payment was not completed; nothing was charged.")
        return redirect("invoices:invoice_detail", pk=attempt.invoice_id)


class AttemptCancelledView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            attempt = services.checkout_abandon(customer=self.customer, attempt_id=pk)
        except PaymentAttempt.DoesNotExist as exc:
            raise Http404("No such payment.") from exc
        messages.info(request, "You cancelled the payment. The invoice is still open.")
        return redirect("invoices:invoice_detail", pk=attempt.invoice_id)


class CardListView(CustomerRequiredMixin, TemplateView):
    template_name = "payments/card_list.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["cards"] = card_list_for_customer(customer=self.customer)
        context["can_add"] = registry.gateway_with(SavedCards) is not None
        return context


class CardAddView(NotWhileActingMixin, CustomerRequiredMixin, View):
    acting_refused_what = "change saved cards"
    acting_refused_redirect = "payments:card_list"

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            url = services.card_setup_begin(
                customer=self.customer, base_url=request.build_absolute_uri("/")
            )
        except PaymentsError as error:
            messages.error(request, error.message)
            return redirect("payments:card_list")
        return redirect(url)


class CardReturnView(CustomerRequiredMixin, View):
    reference_parameter = ""  # the saved-cards gateway's (payments/urls.py)

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            card = services.card_setup_complete(
                customer=self.customer,
                reference=_reference_or_404(request, self.reference_parameter),
            )
        except PaymentAttempt.DoesNotExist as exc:
            raise Http404("No such card setup.") from exc
        except PaymentsError as error:
            messages.warning(request, error.message)
        else:
            if card is None:
                messages.warning(request, "The card was not saved.")
            else:
                messages.success(request, f"{card} is saved.")
        return redirect("payments:card_list")


class CardActionView(NotWhileActingMixin, CustomerRequiredMixin, View):
    acting_refused_what = "change saved cards"
    acting_refused_redirect = "payments:card_list"
    action = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = services.card_remove if self.action == "remove" else services.card_set_default
        try:
            service(customer=self.customer, method_id=pk)
        except SavedPaymentMethod.DoesNotExist as exc:
            raise Http404("No such card.") from exc
        except PaymentsError as error:
            messages.error(request, error.message)
        else:
            done = "removed" if self.action == "remove" else "now your default card"
            messages.success(request, f"The card is {done}.")
        return redirect("payments:card_list")


class SavedCardPayView(NotWhileActingMixin, CustomerRequiredMixin, View):
    acting_refused_what = "pay invoices"

    def post(self, request: HttpRequest, pk: int, method_id: int) -> HttpResponse:
        try:
            invoice = invoice_get_for_customer(customer=self.customer, invoice_id=pk)
            url = billing.saved_card_pay(
                invoice=invoice, method_id=method_id, base_url=request.build_absolute_uri("/")
            )
        except (Invoice.DoesNotExist, SavedPaymentMethod.DoesNotExist) as exc:
            raise Http404("No such invoice or card.") from exc
        except PaymentsError as error:
            messages.error(request, error.message)
            return redirect("invoices:invoice_detail", pk=pk)
        if url:  # the bank wants the customer to confirm (3-D Secure)
            return redirect(url)
        messages.success(request, "Thank you! Your payment was received.")
        return redirect("invoices:invoice_detail", pk=pk)


class ChargeReturnView(CustomerRequiredMixin, View):
    """The customer is back from their bank's confirmation of a saved-card payment."""

    reference_parameter = ""  # the gateway's (payments/urls.py)

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            attempt = billing.saved_card_pay_complete(
                customer=self.customer,
                reference=_reference_or_404(request, self.reference_parameter),
            )
        except PaymentAttempt.DoesNotExist as exc:
            raise Http404("No such payment.") from exc
        except PaymentsError as error:
            messages.warning(request, error.message)
            return redirect("payments:payment_list")
        if attempt.status == PaymentAttempt.Status.COMPLETED:
            messages.success(request, "Thank you! Your payment was received.")
        else:
            messages.warning(request, "The payment was not confirmed; nothing was charged.")
        return redirect("invoices:invoice_detail", pk=attempt.invoice_id)


class SubscriptionBeginView(NotWhileActingMixin, CustomerRequiredMixin, View):
    acting_refused_what = "set up automatic payments"

    def post(self, request: HttpRequest, service_id: int) -> HttpResponse:
        from provisioning.models import Service

        try:
            url = services.subscription_begin(
                customer=self.customer,
                service_id=service_id,
                base_url=request.build_absolute_uri("/"),
            )
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        except PaymentsError as error:
            messages.error(request, error.message)
            return redirect("provisioning:service_list")
        return redirect(url)


class SubscriptionReturnView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        from payments.models import GatewaySubscription

        try:
            subscription = services.subscription_confirm(
                customer=self.customer, reference=_reference_or_404(request, "subscription_id")
            )
        except GatewaySubscription.DoesNotExist as exc:
            raise Http404("No such subscription.") from exc
        except PaymentsError as error:
            messages.warning(request, error.message)
        else:
            provider = registry.display_name(subscription.gateway)
            if subscription.status == GatewaySubscription.Status.ACTIVE:
                messages.success(request, f"Renewals of this service are now paid with {provider}.")
            else:
                messages.info(request, f"{provider} has not confirmed automatic payments yet.")
        return redirect("provisioning:service_list")


class SubscriptionCancelView(CustomerRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from payments.models import GatewaySubscription

        try:
            subscription = services.subscription_cancel_by_customer(
                customer=self.customer, subscription_id=pk
            )
        except GatewaySubscription.DoesNotExist as exc:
            raise Http404("No such subscription.") from exc
        except PaymentsError as error:
            messages.error(request, error.message)
        else:
            provider = registry.display_name(subscription.gateway)
            messages.success(request, f"Automatic {provider} payments are stopped.")
        return redirect("provisioning:service_list")
