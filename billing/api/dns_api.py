"""Customer API: DNS plans, the subscription, zones and records (all under the `dns` scope),
through the services the DNS pages call (billing/views/dns.py), so the refusals read the
same. Another customer's zone or record is a 404."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.models import ApiKey
from billing.api import dns_api_serializers as io
from billing.api.views import CustomerApi
from billing.services import dns_plans
from billing.views.dns import RecordFilter
from billing_portal.common.api_errors import ErrorSerializer
from billing_portal.common.request import RequestMeta
from catalogue.models import Product
from dnszones import services as dns
from dnszones.errors import PriceChanged
from dnszones.models import Record, Zone
from dnszones.selectors import (
    dns_allowance_for_customer,
    records_of_zone,
    zone_get_for_customer,
    zones_for_customer,
)
from invoices.models import Invoice

REFUSED = {400: ErrorSerializer, 404: ErrorSerializer}
POSTED = {**REFUSED, 409: ErrorSerializer, 422: ErrorSerializer}
MAX_ID = 2**63 - 1
PRICE_CHANGED = "The price changed since it was shown: check it again below."


class DnsApi(CustomerApi):
    required_scope = ApiKey.Scope.DNS

    def zone(self) -> Zone:
        return zone_get_for_customer(customer=self.customer, zone_id=self.object_id())

    def record_id(self) -> int:
        record_id = int(self.kwargs["record_id"])
        if record_id > MAX_ID:
            raise exceptions.NotFound()
        # The record must be in the zone of the route (and so the caller's).
        if not records_of_zone(zone=self.zone()).filter(pk=record_id).exists():
            raise exceptions.NotFound()
        return record_id


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- plans and the subscription -------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(operation_id="dns_plans_list", responses=io.PlanSerializer(many=True))
)
class DnsPlanListApi(DnsApi):
    def get(self, request: Request) -> Response:
        offers = dns_plans.dns_plan_offers(customer=self.customer)
        return Response(io.PlanSerializer(offers, many=True).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="dns_plan_quote",
        responses={200: io.PlanQuoteSerializer, **REFUSED},
        description="What buying or switching to this plan would charge now; no change.",
    )
)
class DnsPlanQuoteApi(DnsApi):
    def get(self, request: Request, pk: int) -> Response:
        quote = dns_plans.dns_plan_quote(customer=self.customer, product_id=self.object_id())
        return Response(io.PlanQuoteSerializer(quote).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="dns_subscription_retrieve", responses=io.DnsSubscriptionSerializer
    ),
    post=extend_schema(
        operation_id="dns_subscribe",
        request=io.SubscribeInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: io.SubscribeOutput, **POSTED},
        description=(
            "Buy a plan, or switch to it: the quote's amount is invoiced and paid from "
            "account credit when it covers it. Send the amount of the quote you accept. "
            "Needs the `dns` scope and an Idempotency-Key."
        ),
    ),
)
class DnsSubscriptionApi(IdempotentMixin, DnsApi):
    def get(self, request: Request) -> Response:
        customer = self.customer
        service = dns_plans.dns_service_of(customer)
        unpaid = dns_plans.dns_plan_unpaid_invoice(service)
        data = {
            "service": service,
            "allowance": dns_allowance_for_customer(customer=customer),
            "unpaid_invoice": unpaid.pk if unpaid else None,
            "nameservers": list(settings.DNS_REQUIRED_NAMESERVERS),
        }
        return Response(io.DnsSubscriptionSerializer(data).data)

    def idempotent_post(self, request: Request) -> Response:
        data = _valid(io.SubscribeInput, request)
        customer = self.customer
        try:
            quote = dns_plans.dns_plan_quote(customer=customer, product_id=data["plan"])
        except Product.DoesNotExist as exc:
            raise exceptions.ValidationError({"plan": ["No such plan."]}) from exc
        if data["amount"] != quote.amount.amount:
            raise PriceChanged(PRICE_CHANGED)
        invoice = dns_plans.dns_plan_confirm(
            customer=customer,
            quote=quote,
            actor=request.user,
            meta=RequestMeta.from_request(request),
            idempotency_key=self.idempotency_reference,
        )
        body = {
            "detail": _subscribed(quote, invoice),
            "invoice": invoice.pk if invoice else None,
            "invoice_status": invoice.status if invoice else None,
        }
        return Response(io.SubscribeOutput(body).data, status=status.HTTP_201_CREATED)


def _subscribed(quote: dns_plans.PlanQuote, invoice: Invoice | None) -> str:
    """The DNS page's message after a confirmation."""
    if invoice is None or invoice.status == Invoice.Status.PAID:
        paid = f" Invoice {invoice.number} was paid from your account credit." if invoice else ""
        return f"Your DNS plan is {quote.plan.name}.{paid}"
    return (
        f"Invoice {invoice.number} for the {quote.plan.name} plan awaits payment: your "
        "account credit does not cover it. Add credit or pay it another way."
    )


@extend_schema_view(
    post=extend_schema(
        operation_id="dns_subscription_cancel",
        request=None,
        responses={200: io.CancelOutput, 400: ErrorSerializer},
        description="End the DNS plan at the end of its paid period.",
    )
)
class DnsSubscriptionCancelApi(DnsApi):
    def post(self, request: Request) -> Response:
        service = dns_plans.dns_plan_cancel(customer=self.customer, actor=request.user)
        detail = f"Your plan ends on {service.ends_on:%Y-%m-%d}."
        return Response(io.CancelOutput({"detail": detail, "ends_on": service.ends_on}).data)


# --- zones ---------------------------------------------------------------------------------


def _zone_data(zone: Zone, record_count: int | None = None) -> dict[str, Any]:
    count = getattr(zone, "record_count", None) if record_count is None else record_count
    return {
        "id": zone.pk,
        "name": zone.name,
        "display_name": zone.display_name,
        "status": zone.status,
        "serial": zone.serial,
        "record_count": count if count is not None else zone.records.count(),
        "created_at": zone.created_at,
    }


@extend_schema_view(
    get=extend_schema(operation_id="dns_zones_list"),
    post=extend_schema(
        operation_id="dns_zone_create",
        request=io.ZoneInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: io.ZoneSerializer, **POSTED},
        description=(
            "Add a zone for a domain delegated to our name servers (with an apex A record "
            "when `apex` is given). Needs the `dns` scope and an Idempotency-Key."
        ),
    ),
)
class DnsZoneListApi(IdempotentMixin, DnsApi, generics.ListAPIView):
    serializer_class = io.ZoneSerializer
    queryset = Zone.objects.none()  # for the schema; get_queryset reads the selector

    def get_queryset(self) -> QuerySet[Zone]:
        return zones_for_customer(customer=self.customer)  # by name: unique, a total order

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [_zone_data(zone) for zone in page or []]
        return self.get_paginated_response(io.ZoneSerializer(rows, many=True).data)

    def idempotent_post(self, request: Request) -> Response:
        data = _valid(io.ZoneInput, request)
        zone = dns.zone_create(
            customer=self.customer,
            name=data["name"],
            apex_address=data["apex"],
            actor=request.user,
        )
        body = io.ZoneSerializer(_zone_data(zone)).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="dns_zone_retrieve", responses={200: io.ZoneSerializer, 404: ErrorSerializer}
    ),
    delete=extend_schema(
        operation_id="dns_zone_delete",
        parameters=[
            OpenApiParameter(
                "confirm",
                str,
                OpenApiParameter.QUERY,
                required=True,
                description="The zone's name, to confirm that it and its records go.",
            )
        ],
        responses={204: None, **REFUSED},
    ),
)
class DnsZoneDetailApi(DnsApi):
    def get(self, request: Request, pk: int) -> Response:
        return Response(io.ZoneSerializer(_zone_data(self.zone())).data)

    def delete(self, request: Request, pk: int) -> Response:
        confirm = request.query_params.get("confirm", "")
        dns.zone_delete(
            customer=self.customer, zone_id=self.object_id(), confirm=confirm, actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- records -------------------------------------------------------------------------------


def _record_args(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in ("name", "type", "ttl", "content")}


@extend_schema_view(
    get=extend_schema(
        operation_id="dns_records_list",
        parameters=[
            OpenApiParameter("q", str, OpenApiParameter.QUERY, description="Name contains."),
            OpenApiParameter("type", str, OpenApiParameter.QUERY, enum=Record.Type.values),
        ],
    ),
    post=extend_schema(
        operation_id="dns_record_create",
        request=io.RecordInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: io.RecordSerializer, **POSTED},
        description="Add a record. Needs the `dns` scope and an Idempotency-Key.",
    ),
)
class DnsRecordListApi(IdempotentMixin, DnsApi, generics.ListAPIView):
    serializer_class = io.RecordSerializer
    queryset = Record.objects.none()  # for the schema; get_queryset reads the selector

    def get_queryset(self) -> QuerySet[Record]:
        # Anything unreadable in the query lists every record, as the page does.
        return RecordFilter.from_query(self.request.query_params).records(self.zone())

    def idempotent_post(self, request: Request, pk: int) -> Response:
        zone = self.zone()  # another customer's zone is a 404 before the body is read
        data = _valid(io.RecordInput, request)
        record = dns.record_add(
            customer=self.customer,
            zone_id=zone.pk,
            actor=request.user,
            **_record_args(data),
        )
        return Response(io.RecordSerializer(record).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="dns_record_retrieve",
        responses={200: io.RecordSerializer, 404: ErrorSerializer},
    ),
    put=extend_schema(
        operation_id="dns_record_update",
        request=io.RecordInput,
        responses={200: io.RecordSerializer, **REFUSED},
    ),
    delete=extend_schema(operation_id="dns_record_delete", responses={204: None, **REFUSED}),
)
class DnsRecordDetailApi(DnsApi):
    def get(self, request: Request, pk: int, record_id: int) -> Response:
        record = records_of_zone(zone=self.zone()).get(pk=self.record_id())
        return Response(io.RecordSerializer(record).data)

    def put(self, request: Request, pk: int, record_id: int) -> Response:
        record_id = self.record_id()
        data = _valid(io.RecordInput, request)
        record = dns.record_update(
            customer=self.customer, record_id=record_id, actor=request.user, **_record_args(data)
        )
        return Response(io.RecordSerializer(record).data)

    def delete(self, request: Request, pk: int, record_id: int) -> Response:
        dns.record_delete(customer=self.customer, record_id=self.record_id(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
