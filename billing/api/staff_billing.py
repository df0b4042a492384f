"""Staff money endpoints under /api/v1/staff/: customers, invoices, payments and refunds,
account credit and its ledger, VPS tokens, the failed operations queue and usage records.

Each view parses with a serializer, calls the one service or selector the admin calls for
the same action, and answers with an output serializer. Each needs a staff key with the
scope it names and, per method, the permissions the admin requires (accounts/roles.py); a
POST that creates something or moves money takes an Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, time
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.utils import timezone
from djmoney.money import Money
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.api.staff import StaffApi
from accounts.models import ApiKey, Customer
from billing import services as billing
from billing.api import staff_billing_filters as filters
from billing.api import staff_billing_serializers as s
from billing.models import TokenPurchase
from billing.selectors import token_purchase_list_for_staff
from billing.services.issuing import invoice_create_manual
from billing_portal.common.api_errors import ErrorSerializer
from billing_portal.common.request import RequestMeta
from credits import services as credits
from credits.models import CreditEntry
from credits.selectors import credit_entries_for_customer
from invoices import services as invoices
from invoices.models import Invoice, UsageRecord
from invoices.selectors import (
    invoice_get_for_staff,
    invoice_list_for_staff,
    usage_records_for_service,
)
from invoices.services.usage import usage_record_add
from payments.models import Payment
from payments.selectors import payment_get_for_staff, payment_list_for_staff
from provisioning import services as provisioning
from provisioning.models import ProvisioningOperation
from provisioning.selectors import operation_queue_for_staff

READ = ApiKey.Scope.STAFF_READ
BILLING = ApiKey.Scope.STAFF_BILLING
SERVICES = ApiKey.Scope.STAFF_SERVICES
# The errors a POST may answer besides its success (400, 401, 403, 404 and 429 the schema
# generator adds itself): an Idempotency-Key in flight (409) or reused for another body, or
# a refusal the service marks unprocessable (422).
POST_ERRORS: Mapping[int, Any] = {409: ErrorSerializer, 422: ErrorSerializer}


def _idempotent(operation_id: str, request: Any, response: Any, description: str) -> Any:
    """The schema of an idempotent POST."""
    return extend_schema(
        operation_id=operation_id,
        request=request,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: response, **POST_ERRORS},
        description=description + " Needs an Idempotency-Key.",
    )


def _found(get: Callable[[int], Any], name: str, pk: int) -> Any:
    """The object a request body names, read by its selector, or a 400 on that field (a
    404 is for the object the URL names)."""
    try:
        return get(pk)
    except ObjectDoesNotExist:
        raise exceptions.ValidationError({name: [f"No {name} has the id {pk}."]}) from None


class StaffBillingApi(StaffApi):
    """A staff endpoint of this module (reads `required_scope`, writes `write_scope` where a
    view both lists and creates: accounts.api.permissions.scope_needed)."""

    @property
    def meta(self) -> RequestMeta:
        return RequestMeta.from_request(self.request)


# --- Customers ------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(operation_id="staff_customer_list"),
    post=_idempotent(
        "staff_customer_create",
        s.StaffCustomerCreateSerializer,
        s.StaffCustomerDetailSerializer,
        "Create a customer and its user (no password: the customer sets one through "
        "'forgot password').",
    ),
)
class StaffCustomerListApi(IdempotentMixin, StaffBillingApi, generics.ListAPIView):
    """Every customer by name; filter by a search text, country and creation date."""

    required_scope = READ
    write_scope = BILLING
    required_permissions = {"GET": ("accounts.view_customer",), "POST": ("accounts.add_customer",)}
    serializer_class = s.StaffCustomerSerializer
    filterset_class = filters.StaffCustomerFilter
    queryset = Customer.objects.none()  # for the schema; get_queryset reads the selector

    def get_queryset(self) -> QuerySet[Customer]:
        return account_selectors.customer_list_for_staff()

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.StaffCustomerCreateSerializer, request)
        email = data.pop("email")
        customer = account_services.customer_create_by_staff(
            email=email, profile=data, actor=request.user, meta=self.meta
        )
        body = s.StaffCustomerDetailSerializer(customer).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(operation_id="staff_customer_detail"))
class StaffCustomerDetailApi(StaffBillingApi, generics.RetrieveAPIView):
    """One customer with the profile's address, tax and credit settings."""

    required_scope = READ
    required_permissions = {"GET": ("accounts.view_customer",)}
    serializer_class = s.StaffCustomerDetailSerializer
    queryset = Customer.objects.none()

    def get_object(self) -> Customer:
        return account_selectors.customer_get_for_staff(customer_id=self.object_id())


# --- Credit and the ledger ------------------------------------------------------------------


@extend_schema_view(
    post=_idempotent(
        "staff_customer_credit_change",
        s.CreditChangeSerializer,
        s.StaffCreditEntrySerializer,
        "Add or remove account credit with a mandatory reason (a ledger entry and an audit "
        "event); removing more than the balance is refused.",
    )
)
class StaffCreditChangeApi(IdempotentMixin, StaffBillingApi):
    required_scope = BILLING
    required_permissions = {"POST": ("credits.change_credit",)}

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customer = account_selectors.customer_get_for_staff(customer_id=self.object_id())
        data = _valid(s.CreditChangeSerializer, request)
        change = (
            credits.credit_add_by_staff
            if data["direction"] == "add"
            else credits.credit_remove_by_staff
        )
        entry = change(
            customer=customer,
            amount=Money(data["amount"], data["currency"]),
            reason=data["reason"],
            staff=request.user,
            request_key=self.idempotency_reference,
        )
        body = s.StaffCreditEntrySerializer(entry).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(operation_id="staff_customer_ledger"))
class StaffLedgerApi(StaffBillingApi, generics.ListAPIView):
    """The customer's credit ledger, newest first; filter by kind, currency and date."""

    required_scope = READ
    required_permissions = {"GET": ("credits.view_creditentry",)}
    serializer_class = s.StaffCreditEntrySerializer
    filterset_class = filters.StaffLedgerFilter
    queryset = CreditEntry.objects.none()

    def get_queryset(self) -> QuerySet[CreditEntry]:
        customer = account_selectors.customer_get_for_staff(customer_id=self.object_id())
        return credit_entries_for_customer(customer=customer).select_related("staff_user")


# --- Invoices -------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(operation_id="staff_invoice_list"),
    post=_idempotent(
        "staff_invoice_create",
        s.ManualInvoiceSerializer,
        s.StaffInvoiceDetailSerializer,
        "Create a manual invoice, issued at once (`issue`, which needs the permission to "
        "issue invoices) or kept as a draft.",
    ),
)
class StaffInvoiceListApi(IdempotentMixin, StaffBillingApi, generics.ListAPIView):
    """Every invoice, drafts included, newest first; filter by status, kind, customer and
    the creation, issue and due dates."""

    required_scope = READ
    write_scope = BILLING
    required_permissions = {"GET": ("invoices.view_invoice",), "POST": ("invoices.add_invoice",)}
    serializer_class = s.StaffInvoiceSerializer
    filterset_class = filters.StaffInvoiceFilter
    queryset = Invoice.objects.none()

    def get_queryset(self) -> QuerySet[Invoice]:
        return invoice_list_for_staff()

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.ManualInvoiceSerializer, request)
        if data["issue"] and not request.user.has_perm("invoices.issue_invoice"):
            raise exceptions.PermissionDenied(
                "Your staff role does not allow issuing invoices: send issue=false for a draft."
            )
        currency = data["currency"]
        lines = [
            invoices.LineDraft(
                kind="manual",
                description=line["description"],
                quantity=line["quantity"],
                unit_price=Money(line["unit_price"], currency),
            )
            for line in data["lines"]
        ]
        invoice = invoice_create_manual(
            customer=_found(_customer, "customer", data["customer"]),
            currency=currency,
            lines=lines,
            due_date=data["due_date"],
            notes=data["notes"],
            issue=data["issue"],
            actor=request.user,
        )
        return Response(_invoice_data(invoice.pk), status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(operation_id="staff_invoice_detail"))
class StaffInvoiceDetailApi(StaffBillingApi, generics.RetrieveAPIView):
    """One invoice, any status, with its lines."""

    required_scope = READ
    required_permissions = {"GET": ("invoices.view_invoice",)}
    serializer_class = s.StaffInvoiceDetailSerializer
    queryset = Invoice.objects.none()

    def get_object(self) -> Invoice:
        return invoice_get_for_staff(invoice_id=self.object_id())


@extend_schema_view(
    post=extend_schema(
        operation_id="staff_invoice_issue",
        request=None,
        responses={200: s.StaffInvoiceDetailSerializer, 409: ErrorSerializer},
        description="Issue a draft invoice (numbered, sent, offered to account credit).",
    )
)
class StaffInvoiceIssueApi(StaffBillingApi):
    required_scope = BILLING
    required_permissions = {"POST": ("invoices.issue_invoice",)}

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invoice_id = invoice_get_for_staff(invoice_id=self.object_id()).pk  # 404 if unknown
        billing.invoice_issue(invoice_id=invoice_id, actor=request.user)
        return Response(_invoice_data(invoice_id))


@extend_schema_view(
    post=extend_schema(
        operation_id="staff_invoice_cancel",
        request=s.InvoiceCancelSerializer,
        responses={200: s.StaffInvoiceDetailSerializer, 409: ErrorSerializer},
        description="Cancel an unpaid (or draft) invoice with no payments on it.",
    )
)
class StaffInvoiceCancelApi(StaffBillingApi):
    required_scope = BILLING
    required_permissions = {"POST": ("invoices.cancel_invoice",)}

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invoice_id = invoice_get_for_staff(invoice_id=self.object_id()).pk
        data = _valid(s.InvoiceCancelSerializer, request)
        invoices.invoice_cancel(invoice_id=invoice_id, actor=request.user, reason=data["reason"])
        return Response(_invoice_data(invoice_id))


@extend_schema_view(
    post=_idempotent(
        "staff_invoice_credit_note",
        s.CreditNoteCreateSerializer,
        s.CreditNoteSerializer,
        "Issue a credit note on a paid invoice (part or all of it, with a mandatory reason).",
    )
)
class StaffCreditNoteApi(IdempotentMixin, StaffBillingApi):
    required_scope = BILLING
    required_permissions = {"POST": ("invoices.add_creditnote",)}

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invoice = invoice_get_for_staff(invoice_id=self.object_id())
        data = _valid(s.CreditNoteCreateSerializer, request)
        note = invoices.credit_note_issue(
            invoice_id=invoice.pk,
            amount=Money(data["amount"], invoice.currency),
            reason=data["reason"],
            actor=request.user,
        )
        return Response(s.CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)


# --- Payments -------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(operation_id="staff_payment_list"),
    post=_idempotent(
        "staff_payment_record",
        s.ManualPaymentSerializer,
        s.StaffPaymentSerializer,
        "Record a bank transfer, cheque or cash payment on an unpaid invoice (partial "
        "payments too); recorded once per reference.",
    ),
)
class StaffPaymentListApi(IdempotentMixin, StaffBillingApi, generics.ListAPIView):
    """Every payment, newest first; filter by status, method, gateway, customer and date."""

    required_scope = READ
    write_scope = BILLING
    required_permissions = {"GET": ("payments.view_payment",), "POST": ("payments.add_payment",)}
    serializer_class = s.StaffPaymentSerializer
    filterset_class = filters.StaffPaymentFilter
    queryset = Payment.objects.none()

    def get_queryset(self) -> QuerySet[Payment]:
        return payment_list_for_staff()

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.ManualPaymentSerializer, request)
        invoice = _found(_invoice, "invoice", data["invoice"])
        if invoice.status != Invoice.Status.UNPAID:  # as the admin's form offers
            refusal = "Payments are recorded on unpaid invoices only."
            raise exceptions.ValidationError({"invoice": [refusal]})
        received_on = data["received_on"] or timezone.localdate()
        payment = billing.payment_record(
            invoice_id=invoice.pk,
            gateway="manual",
            reference=data["reference"].strip(),
            amount=Money(data["amount"], invoice.currency),
            method=data["method"],
            received_at=timezone.make_aware(datetime.combine(received_on, time.min)),
            actor=request.user,
            meta=self.meta,
        )
        body = s.StaffPaymentSerializer(payment_get_for_staff(payment_id=payment.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(operation_id="staff_payment_detail"))
class StaffPaymentDetailApi(StaffBillingApi, generics.RetrieveAPIView):
    """One payment with what was refunded of it."""

    required_scope = READ
    required_permissions = {"GET": ("payments.view_payment",)}
    serializer_class = s.StaffPaymentSerializer
    queryset = Payment.objects.none()

    def get_object(self) -> Payment:
        return payment_get_for_staff(payment_id=self.object_id())


@extend_schema_view(
    post=_idempotent(
        "staff_payment_refund",
        s.RefundSerializer,
        s.RefundOutputSerializer,
        "Refund (part of) a payment through its provider (`to`: gateway) or to account "
        "credit (`to`: credit); a credit note is issued on the invoice and what the payment "
        "bought is taken back. Where part cannot be (credit spent, tokens used) the refund "
        "needs `accept_shortfall`.",
    )
)
class StaffRefundApi(IdempotentMixin, StaffBillingApi):
    required_scope = BILLING
    required_permissions = {"POST": ("payments.refund_payment",)}

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payment = payment_get_for_staff(payment_id=self.object_id())
        data = _valid(s.RefundSerializer, request)
        amount = Money(data["amount"], payment.currency)
        preview = billing.purchase_refund_preview(invoice=payment.invoice, amount=amount)
        if preview.needs_confirmation and not data["accept_shortfall"]:
            raise exceptions.ValidationError(
                {"accept_shortfall": [f"{preview.shortfall} cannot be taken back: send true."]}
            )
        common = {"payment_id": payment.pk, "amount": amount, "reason": data["reason"]}
        entry = None
        if data["to"] == "credit":
            entry = billing.credit_refund_payment(
                **common, actor=request.user, request_key=self.idempotency_reference
            )
        else:
            billing.payment_refund_via_gateway(**common, actor=request.user)
        body = {"payment": payment_get_for_staff(payment_id=payment.pk), "credit_entry": entry}
        return Response(s.RefundOutputSerializer(body).data, status=status.HTTP_201_CREATED)


# --- Tokens ---------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(operation_id="staff_token_list"),
    post=_idempotent(
        "staff_token_grant",
        s.TokenGrantSerializer,
        s.StaffTokenPurchaseSerializer,
        "Grant VirtFusion tokens to a customer (goodwill, compensation) with a mandatory "
        "reason: recorded, then delivered to VirtFusion like a purchase.",
    ),
)
class StaffTokenListApi(IdempotentMixin, StaffBillingApi, generics.ListAPIView):
    """Token purchases and staff grants, newest first; filter by status, source, customer
    and date."""

    required_scope = READ
    write_scope = BILLING
    required_permissions = {
        "GET": ("billing.view_tokenpurchase",),
        "POST": ("billing.manage_tokens",),
    }
    serializer_class = s.StaffTokenPurchaseSerializer
    filterset_class = filters.StaffTokenFilter
    queryset = TokenPurchase.objects.none()

    def get_queryset(self) -> QuerySet[TokenPurchase]:
        return token_purchase_list_for_staff()

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.TokenGrantSerializer, request)
        grant = billing.tokens_add_by_staff(
            customer=_found(_customer, "customer", data["customer"]),
            tokens=data["tokens"],
            reason=data["reason"],
            staff=request.user,
        )
        body = s.StaffTokenPurchaseSerializer(grant).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        operation_id="staff_token_cancel",
        request=s.TokenCancelSerializer,
        responses={200: s.StaffTokenPurchaseSerializer, 409: ErrorSerializer},
        description="Take delivered tokens back out of VirtFusion, with a mandatory reason.",
    )
)
class StaffTokenCancelApi(StaffBillingApi):
    required_scope = BILLING
    required_permissions = {"POST": ("billing.manage_tokens",)}

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.TokenCancelSerializer, request)
        cancelled = billing.token_purchase_cancel(  # TokenPurchase.DoesNotExist: a 404
            token_purchase_id=self.object_id(), staff=request.user, reason=data["reason"]
        )
        return Response(s.StaffTokenPurchaseSerializer(cancelled).data)


# --- Operations -----------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(operation_id="staff_operation_list"))
class StaffOperationListApi(StaffBillingApi, generics.ListAPIView):
    """The failed queue: panel operations that failed for good or need checking on the
    panel, newest first; filter by status, kind and date."""

    required_scope = READ
    required_permissions = {"GET": ("provisioning.view_provisioningoperation",)}
    serializer_class = s.StaffOperationSerializer
    filterset_class = filters.StaffOperationFilter
    queryset = ProvisioningOperation.objects.none()

    def get_queryset(self) -> QuerySet[ProvisioningOperation]:
        return operation_queue_for_staff()


@extend_schema_view(
    post=extend_schema(
        operation_id="staff_operation_retry",
        request=None,
        responses={200: s.StaffOperationSerializer, 409: ErrorSerializer},
        description="Queue a failed (or to-be-checked) operation again.",
    )
)
class StaffOperationRetryApi(StaffBillingApi):
    required_scope = SERVICES
    required_permissions = {"POST": ("provisioning.retry_operation",)}

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        operation = provisioning.operation_retry(  # DoesNotExist: a 404
            operation_id=self.object_id(), staff=request.user
        )
        return Response(s.StaffOperationSerializer(operation).data)


# --- Usage ----------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(operation_id="staff_service_usage_list"),
    post=extend_schema(
        operation_id="staff_service_usage_record",
        request=s.UsageRecordCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.UsageRecordSerializer, 200: s.UsageRecordSerializer, **POST_ERRORS},
        description=(
            "Record a quantity of a metric (call minutes, seats) for a service, once per "
            "Idempotency-Key: renewals bill what is above the product's included quantity "
            "of its usage metric. 200: the key's earlier record (nothing new was written)."
        ),
    ),
)
class StaffUsageApi(IdempotentMixin, StaffBillingApi, generics.ListAPIView):
    """A service's usage records, newest first; filter by metric and date."""

    required_scope = READ
    write_scope = BILLING
    required_permissions = {
        "GET": ("invoices.view_usagerecord",),
        "POST": ("invoices.add_usagerecord",),
    }
    serializer_class = s.UsageRecordSerializer
    filterset_class = filters.UsageRecordFilter
    queryset = UsageRecord.objects.none()

    def get_queryset(self) -> QuerySet[UsageRecord]:
        return usage_records_for_service(service_id=self.object_id())

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.UsageRecordCreateSerializer, request)
        recorded = usage_record_add(  # Service.DoesNotExist: a 404
            service_id=self.object_id(),
            metric=data["metric"],
            quantity=data["quantity"],
            recorded_at=data["recorded_at"],
            idempotency_key=self.idempotency_reference,
            actor=request.user,
            meta=self.meta,
        )
        code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        return Response(s.UsageRecordSerializer(recorded.record).data, status=code)


# --- Helpers --------------------------------------------------------------------------------


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _customer(pk: int) -> Customer:
    return account_selectors.customer_get_for_staff(customer_id=pk)


def _invoice(pk: int) -> Invoice:
    return invoice_get_for_staff(invoice_id=pk)


def _invoice_data(invoice_id: int) -> Any:
    """The invoice as it is now (after the service changed it), with its lines."""
    return s.StaffInvoiceDetailSerializer(invoice_get_for_staff(invoice_id=invoice_id)).data
