"""The customer's payment endpoints: paying an invoice at a provider and confirming it,
payments, saved cards, automatic payments (provider subscriptions), the balance, buying
account credit and the credit ledger. Each view parses its input, calls the service or
selector the client area's payment and credit pages call (billing/views/payments.py,
billing/views/credits.py), and answers with an output serializer; every lookup is scoped
to the caller's customer, so another customer's ids answer 404.

Reads need the `read` scope, everything that starts, confirms or changes a payment the
`billing` scope. The POSTs that start or confirm a payment, or save something, take an
Idempotency-Key: the first answer is replayed. Their services have no key of their own to
take: the provider calls are keyed by the portal's attempt row (one per start), and
confirming is once per provider reference however often it is asked.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from djmoney.money import Money
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.models import ApiKey
from billing import services as billing
from billing.api.payments_api_filters import LedgerFilter, PaymentFilter, SubscriptionFilter
from billing.api.payments_api_serializers import (
    CardSetupCompletedSerializer,
    CardSetupStartedSerializer,
    CheckoutCapturedSerializer,
    CheckoutStartedSerializer,
    CreditPurchaseCapturedSerializer,
    CreditPurchaseInput,
    CreditPurchaseStartedSerializer,
    LedgerEntrySerializer,
    PaymentDetailSerializer,
    PaymentSerializer,
    PaymentStartInput,
    SavedMethodSerializer,
    SubscriptionSerializer,
    SubscriptionStartedSerializer,
)
from billing.api.serializers import money_data
from billing.api.views import BalanceApi, BalanceSerializer, CustomerApi
from billing_portal.common.api_errors import ErrorSerializer
from billing_portal.common.request import RequestMeta
from credits.models import CreditEntry
from credits.selectors import credit_balances_for_customer, credit_entries_for_customer
from invoices.models import Invoice
from invoices.selectors import invoice_get_for_customer
from payments import services as payments
from payments.models import GatewaySubscription, Payment, PaymentAttempt, SavedPaymentMethod
from payments.selectors import (
    card_list_for_customer,
    card_setup_get_for_customer,
    checkout_get_for_customer,
    payment_get_for_customer,
    payment_list_for_customer,
    subscription_list_for_customer,
)

MAX_ID = 2**63 - 1
# The answers a call to a provider may add to a write's: its refusal (400, the service's
# message) is already documented; 503 when the provider cannot be reached.
GATEWAY_ERRORS: dict[int, Any] = {409: ErrorSerializer, 422: ErrorSerializer, 503: ErrorSerializer}


class BillingApi(CustomerApi):
    """A write that moves money or changes how the customer pays: the `billing` scope."""

    required_scope = ApiKey.Scope.BILLING

    def route_id(self, name: str) -> int:
        # The routes take digits only; an id beyond any row's is simply not found.
        value = int(self.kwargs[name])
        if value > MAX_ID:
            raise exceptions.NotFound()
        return value

    def base_url(self) -> str:
        """Where the provider sends the customer back: the client area's return pages."""
        return self.request.build_absolute_uri("/")


def _captured(api: BillingApi, checkout: PaymentAttempt) -> tuple[Invoice, dict[str, Any]]:
    """Confirm a checkout at its provider (recording the payment once, whoever asks first:
    this call, the customer's return page or the webhook) and read its invoice back."""
    request = api.request
    done = billing.checkout_complete(
        customer=api.customer,
        gateway_name=checkout.gateway,
        reference=checkout.reference,
        meta=RequestMeta.from_request(request),
    )
    if done.invoice_id is None:  # the selector reads checkouts of invoices only
        raise exceptions.NotFound()
    invoice = invoice_get_for_customer(customer=api.customer, invoice_id=done.invoice_id)
    data = {
        "paid": done.status == PaymentAttempt.Status.COMPLETED,
        "checkout": done,
        "invoice": invoice,
    }
    return invoice, data


# --- paying an invoice ----------------------------------------------------------------------


@extend_schema_view(
    post=extend_schema(
        operation_id="invoice_payment_start",
        request=PaymentStartInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CheckoutStartedSerializer, **GATEWAY_ERRORS},
        description=(
            "Start paying an unpaid invoice at a payment provider: the answer is the "
            "checkout and the URL of the provider's page (an approval page, or a hosted "
            "checkout page) to send the customer to. Confirm it afterwards with "
            "`POST /payments/{checkout_id}/capture/` (the provider's webhook confirms it "
            "too). Needs the `billing` scope and an Idempotency-Key."
        ),
    )
)
class InvoicePaymentStartApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Another customer's invoice is a 404 before the body is read.
        invoice = invoice_get_for_customer(customer=self.customer, invoice_id=self.route_id("pk"))
        form = PaymentStartInput(data=request.data)
        form.is_valid(raise_exception=True)
        checkout, url = payments.checkout_begin_attempt(
            invoice=invoice,
            gateway_name=form.validated_data["gateway"],
            base_url=self.base_url(),
        )
        data = {"checkout": checkout, "redirect_url": url}
        return Response(CheckoutStartedSerializer(data).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        operation_id="payment_capture",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: CheckoutCapturedSerializer, **GATEWAY_ERRORS},
        description=(
            "Confirm a checkout once the customer has approved it at the provider: an "
            "approved order is captured, and the payment is recorded and applied to the "
            "invoice once, however often this is called. `paid` is false while the provider "
            "has not taken the payment (nothing is recorded then). Needs the `billing` scope "
            "and an Idempotency-Key."
        ),
    )
)
class CheckoutCaptureApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        checkout = checkout_get_for_customer(
            customer=self.customer, checkout_id=self.route_id("checkout_id")
        )
        _invoice, data = _captured(self, checkout)
        return Response(CheckoutCapturedSerializer(data).data)


class PaymentListApi(CustomerApi, generics.ListAPIView):
    """The caller's payments, newest first; filter by status and the date received."""

    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    queryset = Payment.objects.none()  # for the schema; get_queryset reads the selector

    @extend_schema(operation_id="payment_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Payment]:
        return payment_list_for_customer(customer=self.customer)


class PaymentDetailApi(CustomerApi, generics.RetrieveAPIView):
    serializer_class = PaymentDetailSerializer
    queryset = Payment.objects.none()

    @extend_schema(operation_id="payment_retrieve")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_object(self) -> Payment:
        return payment_get_for_customer(customer=self.customer, payment_id=self.object_id())


# --- saved cards ----------------------------------------------------------------------------


class SavedMethodListApi(CustomerApi, generics.ListAPIView):
    """The caller's saved cards, the default first."""

    serializer_class = SavedMethodSerializer
    queryset = SavedPaymentMethod.objects.none()

    @extend_schema(operation_id="payment_method_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[SavedPaymentMethod]:
        return card_list_for_customer(customer=self.customer)


@extend_schema_view(
    post=extend_schema(
        operation_id="payment_method_setup",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CardSetupStartedSerializer, **GATEWAY_ERRORS},
        description=(
            "Start saving a card (a set-up intent on the provider's hosted page): send the "
            "customer to `redirect_url`, then complete the set-up. Needs the `billing` scope "
            "and an Idempotency-Key."
        ),
    )
)
class CardSetupApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        setup, url = payments.card_setup_begin_attempt(
            customer=self.customer, base_url=self.base_url()
        )
        data = {"setup": setup, "redirect_url": url}
        return Response(CardSetupStartedSerializer(data).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        operation_id="payment_method_setup_complete",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: CardSetupCompletedSerializer, **GATEWAY_ERRORS},
        description=(
            "Keep the card the customer saved at the provider (once); `saved` is false "
            "while they have not finished. Needs the `billing` scope and an Idempotency-Key."
        ),
    )
)
class CardSetupCompleteApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        setup = card_setup_get_for_customer(
            customer=self.customer, setup_id=self.route_id("setup_id")
        )
        method = payments.card_setup_complete(customer=self.customer, reference=setup.reference)
        data = {"saved": method is not None, "method": method}
        return Response(CardSetupCompletedSerializer(data).data)


@extend_schema_view(
    delete=extend_schema(
        operation_id="payment_method_delete",
        responses={204: None, 503: ErrorSerializer},
        description=(
            "Remove a saved card (at its provider too); another card becomes the default if "
            "this one was. Needs the `billing` scope."
        ),
    )
)
class SavedMethodDeleteApi(BillingApi):
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payments.card_remove(customer=self.customer, method_id=self.object_id())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        operation_id="payment_method_set_default",
        request=None,
        responses={200: SavedMethodSerializer, 503: ErrorSerializer},
        description="Make a saved card the one renewals are charged to. Needs `billing`.",
    )
)
class SavedMethodDefaultApi(BillingApi):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        method = payments.card_set_default(customer=self.customer, method_id=self.object_id())
        return Response(SavedMethodSerializer(method).data)


# --- automatic payments (provider subscriptions) --------------------------------------------


@extend_schema_view(
    post=extend_schema(
        operation_id="service_subscription_create",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: SubscriptionStartedSerializer, **GATEWAY_ERRORS},
        description=(
            "Have an active, renewing service's renewals paid automatically by a provider "
            "subscription (from the next due date): send the customer to `redirect_url` to "
            "approve it. Needs the `billing` scope and an Idempotency-Key."
        ),
    )
)
class SubscriptionCreateApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        subscription, url = payments.subscription_begin_record(
            customer=self.customer, service_id=self.object_id(), base_url=self.base_url()
        )
        data = {"subscription": subscription, "redirect_url": url}
        return Response(SubscriptionStartedSerializer(data).data, status=status.HTTP_201_CREATED)


class SubscriptionListApi(CustomerApi, generics.ListAPIView):
    """The caller's automatic-payment subscriptions, newest first; filter by status."""

    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter
    queryset = GatewaySubscription.objects.none()

    @extend_schema(operation_id="subscription_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[GatewaySubscription]:
        return subscription_list_for_customer(customer=self.customer)


@extend_schema_view(
    post=extend_schema(
        operation_id="subscription_cancel",
        request=None,
        responses={200: SubscriptionSerializer, 503: ErrorSerializer},
        description=(
            "Stop automatic payments (at the provider, then here); the service itself "
            "stays. Stopping one already stopped changes nothing. Needs `billing`."
        ),
    )
)
class SubscriptionCancelApi(BillingApi):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        subscription = payments.subscription_cancel_by_customer(
            customer=self.customer, subscription_id=self.object_id()
        )
        subscription.refresh_from_db()
        return Response(SubscriptionSerializer(subscription).data)


# --- balance, credit purchase, ledger -------------------------------------------------------


class BillingBalanceApi(BalanceApi):
    """Account credit in each currency and the VPS tokens added, with formatted values."""

    @extend_schema(responses=BalanceSerializer, operation_id="billing_balance_retrieve")
    def get(self, request: Request) -> Response:
        return super().get(request)


@extend_schema_view(
    post=extend_schema(
        operation_id="credit_purchase",
        request=CreditPurchaseInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CreditPurchaseStartedSerializer, **GATEWAY_ERRORS},
        description=(
            "Buy account credit (an amount within the portal's limits, in the account's "
            "preferred currency): the purchase invoice is issued and its checkout started at "
            "the provider; send the customer to `redirect_url`, then capture it. The credit "
            "is added once the payment is recorded. Needs the `billing` scope and an "
            "Idempotency-Key."
        ),
    )
)
class CreditPurchaseApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = CreditPurchaseInput(data=request.data)
        form.is_valid(raise_exception=True)
        started = billing.credit_purchase_checkout(
            customer=self.customer,
            amount=form.validated_data["amount"],
            gateway_name=form.validated_data["gateway"],
            base_url=self.base_url(),
            actor=request.user,
        )
        data = {
            "invoice": started.invoice,
            "checkout": started.checkout,
            "redirect_url": started.redirect_url,
        }
        return Response(CreditPurchaseStartedSerializer(data).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        operation_id="credit_purchase_capture",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: CreditPurchaseCapturedSerializer, **GATEWAY_ERRORS},
        description=(
            "Confirm a credit purchase's checkout once the customer has approved it: the "
            "payment is recorded and the credit added once, however often this is called; "
            "`credit` is the balance in the purchase's currency after it. Needs the "
            "`billing` scope and an Idempotency-Key."
        ),
    )
)
class CreditPurchaseCaptureApi(IdempotentMixin, BillingApi):
    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        checkout = checkout_get_for_customer(
            customer=self.customer,
            checkout_id=self.route_id("checkout_id"),
            invoice_kind=Invoice.Kind.CREDIT_PURCHASE,
        )
        invoice, data = _captured(self, checkout)
        balance, others = credit_balances_for_customer(customer=self.customer)
        currency = str(invoice.currency)
        held = (money for money in [balance, *others] if str(money.currency) == currency)
        data["credit"] = money_data(next(held, Money(0, currency)))
        return Response(CreditPurchaseCapturedSerializer(data).data)


class LedgerApi(CustomerApi, generics.ListAPIView):
    """The caller's account-credit ledger, newest first: every credit added or spent with
    the balance after it; filter by kind and date."""

    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerFilter
    queryset = CreditEntry.objects.none()

    @extend_schema(operation_id="billing_ledger_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[CreditEntry]:
        return credit_entries_for_customer(customer=self.customer)
