"""Customer API views: each one parses input, calls one selector or service, and answers
with an output serializer. Every queryset is scoped to the caller's customer, so another
customer's ids answer 404."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.api.permissions import HasScope, NotWhileActing
from accounts.models import ApiKey, Customer
from accounts.selectors import customer_get_for_user
from billing import services as billing
from billing.api.filters import InvoiceFilter, ServiceFilter
from billing.api.serializers import (
    InvoiceDetailSerializer,
    InvoiceSerializer,
    MoneyField,
    MoneySerializer,
    ServiceDetailSerializer,
    ServiceSerializer,
    money_data,
)
from billing.selectors import token_totals_for_customer
from billing_portal.common.api_errors import ErrorSerializer
from billing_portal.common.request import RequestMeta
from credits.selectors import credit_accounts_for_customer
from invoices.models import Invoice
from invoices.selectors import invoice_get_for_customer, invoice_list_for_customer
from provisioning.models import Service
from provisioning.selectors import service_get_for_customer, service_list_for_customer
from provisioning.services.tokens import tokens_value


class CustomerApi(APIView):
    """A customer's own data: the caller's user must have a customer profile."""

    permission_classes = [IsAuthenticated, HasScope, NotWhileActing]
    required_scope: str = ApiKey.Scope.READ

    @property
    def customer(self) -> Customer:
        customer = customer_get_for_user(user=self.request.user)
        if customer is None:
            raise exceptions.PermissionDenied(
                "This account has no customer profile: complete it in the client area first.",
                code="no_customer_profile",
            )
        return customer

    def object_id(self) -> int:
        # The route takes digits only; an id beyond any row's is simply not found.
        pk = int(self.kwargs["pk"])
        if pk > 2**63 - 1:
            raise exceptions.NotFound()
        return pk


class ServiceListApi(CustomerApi, generics.ListAPIView):
    """The caller's services, newest first; filter by status and dates."""

    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter
    queryset = Service.objects.none()  # for the schema; get_queryset reads the selector

    def get_queryset(self) -> QuerySet[Service]:
        return service_list_for_customer(customer=self.customer)


class ServiceDetailApi(CustomerApi, generics.RetrieveAPIView):
    serializer_class = ServiceDetailSerializer
    queryset = Service.objects.none()  # for the schema; get_object reads the selector

    def get_object(self) -> Service:
        return service_get_for_customer(customer=self.customer, service_id=self.object_id())


class InvoiceListApi(CustomerApi, generics.ListAPIView):
    """The caller's issued invoices, newest first; filter by status and dates."""

    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    queryset = Invoice.objects.none()

    def get_queryset(self) -> QuerySet[Invoice]:
        return invoice_list_for_customer(customer=self.customer)


class InvoiceDetailApi(CustomerApi, generics.RetrieveAPIView):
    serializer_class = InvoiceDetailSerializer
    queryset = Invoice.objects.none()

    def get_object(self) -> Invoice:
        return invoice_get_for_customer(customer=self.customer, invoice_id=self.object_id())


class TokensSerializer(serializers.Serializer):
    added = serializers.DecimalField(max_digits=14, decimal_places=2)
    value = MoneySerializer()
    tokens_per_unit = serializers.DecimalField(max_digits=10, decimal_places=2)


class BalanceSerializer(serializers.Serializer):
    credit = MoneySerializer(many=True)
    tokens = TokensSerializer()


class BalanceApi(CustomerApi):
    """Account credit in each currency held, and the VPS tokens the portal has added to the
    customer's VirtFusion account (from the portal's records, not a call to VirtFusion)."""

    @extend_schema(
        responses=BalanceSerializer,
        operation_id="balance_retrieve",
        deprecated=True,
        description="The old path of `GET /billing/balance/`, which answers the same.",
    )
    def get(self, request: Request) -> Response:
        customer = self.customer
        # The figure the staff summary shows: sent and not yet taken back (one query).
        tokens = token_totals_for_customer(customer=customer).added
        accounts = credit_accounts_for_customer(customer=customer)
        data = {
            "credit": [money_data(account.balance) for account in accounts],
            "tokens": {
                "added": f"{tokens:.2f}",
                "value": money_data(tokens_value(tokens)),
                "tokens_per_unit": f"{settings.VIRTFUSION_TOKENS_PER_UNIT:.2f}",
            },
        }
        return Response(data)


class PayWithCreditOutput(serializers.Serializer):
    credit_used = MoneyField()
    invoice = InvoiceSerializer()


@extend_schema_view(
    post=extend_schema(
        operation_id="invoice_pay_with_credit",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: PayWithCreditOutput, 409: ErrorSerializer, 422: ErrorSerializer},
        description=(
            "Pay as much of an unpaid invoice as the account credit in its currency covers. "
            "Needs the `billing` scope and an Idempotency-Key."
        ),
    )
)
class InvoicePayWithCreditApi(IdempotentMixin, CustomerApi):
    required_scope = ApiKey.Scope.BILLING

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customer = self.customer
        invoice_id = self.object_id()
        invoice_get_for_customer(customer=customer, invoice_id=invoice_id)  # 404 if not theirs
        entry = billing.credit_pay_invoice(
            customer=customer,
            invoice_id=invoice_id,
            idempotency_key=self.idempotency_reference,
            actor=request.user,
            meta=RequestMeta.from_request(request),
        )
        invoice = invoice_get_for_customer(customer=customer, invoice_id=invoice_id)
        data = {"credit_used": -entry.amount, "invoice": invoice}
        return Response(PayWithCreditOutput(data).data)
