"""Staff API for the infrastructure: panel servers (CRUD, status, a health check) and every
customer's services (list, detail, set up, suspend, unsuspend, terminate, statistics).

Each view needs a staff key with `staff:read` (reads) or `staff:services` (writes), and the
permission the admin asks for the same thing (accounts/roles.py): a Support member may
suspend but not terminate, Technical may set up and manage servers, and so on. Views parse,
call one provisioning service or selector, and answer; the rules are the services'.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.api.staff import StaffApi
from accounts.models import ApiKey
from billing.api.staff_servers_serializers import (
    MAX_ID,
    OptionalReasonSerializer,
    ProvisionSerializer,
    ReasonSerializer,
    ServerInputSerializer,
    ServerSerializer,
    ServerStatusSerializer,
    ServiceStatsSerializer,
    StaffServiceSerializer,
)
from billing_portal.common.api_errors import ErrorSerializer
from billing_portal.common.request import RequestMeta
from provisioning import selectors
from provisioning.models import Server, Service
from provisioning.services import lifecycle, servers
from provisioning.services.server_records import server_create, server_delete, server_update
from provisioning.services.stats import service_stats

SCOPE_READ = ApiKey.Scope.STAFF_READ
SCOPE_WRITE = ApiKey.Scope.STAFF_SERVICES


class InfrastructureApi(StaffApi):
    # `staff:read` for reads, `staff:services` for writes.
    required_scope = SCOPE_READ
    write_scope = SCOPE_WRITE


def _meta(request: Request) -> RequestMeta:
    return RequestMeta.from_request(request)


def _schema(method: str, **kwargs: Any) -> Any:
    """The schema of a view's one method (an operation id on the class is refused)."""
    return extend_schema_view(**{method: extend_schema(**kwargs)})


# --- Servers --------------------------------------------------------------------------------


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number in PostgreSQL's bigint (beyond it nothing matches anyway)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class ServerFilter(django_filters.FilterSet):
    module = django_filters.CharFilter()
    group = IdFilter(field_name="group_id")
    is_active = django_filters.BooleanFilter()
    is_online = django_filters.BooleanFilter()
    location = django_filters.CharFilter()

    class Meta:
        model = Server
        fields = ["module", "group", "is_active", "is_online", "location"]


@extend_schema_view(
    get=extend_schema(
        operation_id="staff_server_list",
        responses=ServerSerializer(many=True),
        description="Every panel server; filter by module, group, location and state.",
    ),
    post=extend_schema(
        operation_id="staff_server_create",
        request=ServerInputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: ServerSerializer,
            400: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
        },
        description="Add a panel server; its credentials are stored encrypted, never shown.",
    ),
)
class ServerListApi(IdempotentMixin, InfrastructureApi, generics.ListAPIView):
    required_permissions = {
        "GET": ("provisioning.view_server",),
        "POST": ("provisioning.add_server",),
    }
    serializer_class = ServerSerializer
    filterset_class = ServerFilter
    queryset = Server.objects.none()  # for the schema; get_queryset reads the selector

    def get_queryset(self) -> QuerySet[Server]:
        return selectors.server_list_for_staff()

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        parsed = ServerInputSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        server = server_create(**parsed.validated_data, actor=request.user, meta=_meta(request))
        return Response(ServerSerializer(server).data, status=201)


@extend_schema_view(
    get=extend_schema(operation_id="staff_server_retrieve", responses=ServerSerializer),
    patch=extend_schema(
        operation_id="staff_server_update",
        request=ServerInputSerializer,
        responses={200: ServerSerializer, 400: ErrorSerializer},
        description="Change a server; credentials left out are kept.",
    ),
    delete=extend_schema(
        operation_id="staff_server_delete",
        responses={204: None, 409: ErrorSerializer},
        description="Remove a server no service was ever placed on (409 otherwise).",
    ),
)
class ServerDetailApi(InfrastructureApi):
    http_method_names = ["get", "patch", "delete", "head", "options"]
    required_permissions = {
        "GET": ("provisioning.view_server",),
        "PATCH": ("provisioning.change_server",),
        "DELETE": ("provisioning.delete_server",),
    }

    def _server(self) -> Server:
        return selectors.server_get_for_staff(server_id=self.object_id())

    def get(self, request: Request, pk: int) -> Response:
        return Response(ServerSerializer(self._server()).data)

    def patch(self, request: Request, pk: int) -> Response:
        parsed = ServerInputSerializer(self._server(), data=request.data, partial=True)
        parsed.is_valid(raise_exception=True)
        server = server_update(
            server_id=self.object_id(),
            **parsed.validated_data,
            actor=request.user,
            meta=_meta(request),
        )
        return Response(ServerSerializer(server).data)

    def delete(self, request: Request, pk: int) -> Response:
        server_delete(server_id=self._server().pk, actor=request.user, meta=_meta(request))
        return Response(status=204)


@_schema(
    "get",
    operation_id="staff_server_status",
    responses=ServerStatusSerializer(many=True),
    description=(
        "Every server's account use against its capacity and whether it is online (as its "
        "last health check found; POST .../check/ checks one now)."
    ),
)
class ServerStatusApi(InfrastructureApi):
    required_permissions = {"GET": ("provisioning.view_server",)}

    def get(self, request: Request) -> Response:
        rows = selectors.server_list_for_staff()
        return Response(ServerStatusSerializer(rows, many=True).data)


@_schema(
    "post",
    operation_id="staff_server_check",
    request=None,
    responses=ServerStatusSerializer,
    description="Test the connection to the panel now and record whether it is online.",
)
class ServerCheckApi(InfrastructureApi):
    # The admin's "Check the connection now" asks for the change permission.
    required_permissions = {"POST": ("provisioning.change_server",)}

    def post(self, request: Request, pk: int) -> Response:
        server = selectors.server_get_for_staff(server_id=self.object_id())
        return Response(ServerStatusSerializer(servers.server_check(server_id=server.pk)).data)


# --- Services -------------------------------------------------------------------------------


class StaffServiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Service.Status.choices)
    customer = IdFilter(field_name="customer_id")
    server = IdFilter(field_name="server_id")
    product = IdFilter(field_name="product_id")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    due_after = django_filters.DateFilter(field_name="next_due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="next_due_date", lookup_expr="lte")

    class Meta:
        model = Service
        fields = ["status", "customer", "server", "product"]


@_schema("get", operation_id="staff_service_list")
class StaffServiceListApi(InfrastructureApi, generics.ListAPIView):
    """Every customer's services, newest first; filter by status, customer, server, product
    and dates."""

    required_permissions = {"GET": ("provisioning.view_service",)}
    serializer_class = StaffServiceSerializer
    filterset_class = StaffServiceFilter
    queryset = Service.objects.none()

    def get_queryset(self) -> QuerySet[Service]:
        return selectors.service_list_for_staff()


class ServiceApi(InfrastructureApi):
    def service(self) -> Service:
        return selectors.service_get_for_staff(service_id=self.object_id())

    def answer(self) -> Response:
        """The service as it is now (read again after a change)."""
        return Response(StaffServiceSerializer(self.service()).data)


@_schema("get", operation_id="staff_service_retrieve", responses=StaffServiceSerializer)
class StaffServiceDetailApi(ServiceApi):
    required_permissions = {"GET": ("provisioning.view_service",)}

    def get(self, request: Request, pk: int) -> Response:
        return self.answer()


@_schema(
    "post",
    operation_id="staff_service_provision",
    request=ProvisionSerializer,
    parameters=[IDEMPOTENCY_PARAMETER],
    responses={
        200: StaffServiceSerializer,
        400: ErrorSerializer,
        409: ErrorSerializer,
        422: ErrorSerializer,
    },
    description=(
        "Set up a pending service on its panel now, before or without its payment (a trial, "
        "a goodwill service): it is `provisioning` until the panel confirms. Needs an "
        "Idempotency-Key."
    ),
)
class StaffServiceProvisionApi(IdempotentMixin, ServiceApi):
    required_permissions = {"POST": ("provisioning.provision_service",)}

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        service = self.service()  # 404 first
        parsed = ProvisionSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        lifecycle.service_provision_by_staff(
            service_id=service.pk, actor=request.user, reason=parsed.validated_data["reason"]
        )
        return self.answer()


def _change_schema(operation_id: str, request: type, description: str) -> Any:
    return _schema(
        "post",
        operation_id=operation_id,
        request=request,
        responses={200: StaffServiceSerializer, 400: ErrorSerializer},
        description=description,
    )


class ServiceChangeApi(ServiceApi):
    """Suspend, unsuspend or terminate: the service's status changes at once and its panel
    follows (an operation run after commit). Repeating one is harmless: a service already
    in that state is answered as it is."""

    reason_serializer: type[ReasonSerializer | OptionalReasonSerializer] = ReasonSerializer

    def change(self, *, service_id: int, reason: str, actor: Any) -> Service:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        service = self.service()
        parsed = self.reason_serializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        reason = parsed.validated_data["reason"] or f"By staff ({request.user})"
        self.change(service_id=service.pk, reason=reason, actor=request.user)
        return self.answer()


@_change_schema(
    "staff_service_suspend",
    ReasonSerializer,
    "Suspend a service (and its panel account) with the reason (the customer's email says it).",
)
class StaffServiceSuspendApi(ServiceChangeApi):
    required_permissions = {"POST": ("provisioning.suspend_service",)}

    def change(self, *, service_id: int, reason: str, actor: Any) -> Service:
        return lifecycle.service_suspend(service_id=service_id, reason=reason, actor=actor)


@_change_schema(
    "staff_service_unsuspend", OptionalReasonSerializer, "Unsuspend a suspended service."
)
class StaffServiceUnsuspendApi(ServiceChangeApi):
    required_permissions = {"POST": ("provisioning.suspend_service",)}
    reason_serializer = OptionalReasonSerializer

    def change(self, *, service_id: int, reason: str, actor: Any) -> Service:
        return lifecycle.service_unsuspend(service_id=service_id, reason=reason, actor=actor)


@_change_schema(
    "staff_service_terminate",
    ReasonSerializer,
    "Terminate a service: its panel account is deleted and its server slot freed.",
)
class StaffServiceTerminateApi(ServiceChangeApi):
    required_permissions = {"POST": ("provisioning.terminate_service",)}

    def change(self, *, service_id: int, reason: str, actor: Any) -> Service:
        return lifecycle.service_terminate(service_id=service_id, reason=reason, actor=actor)


@_schema(
    "get",
    operation_id="staff_service_stats",
    responses={200: ServiceStatsSerializer, 400: ErrorSerializer, 503: ErrorSerializer},
    description=(
        "The account's statistics read live from its panel (domains, databases, email "
        "accounts, storage... with their limits); 503 while the panel does not answer."
    ),
)
class StaffServiceStatsApi(ServiceApi):
    required_permissions = {"GET": ("provisioning.view_service",)}

    def get(self, request: Request, pk: int) -> Response:
        service = self.service()
        data = {
            "service": service.pk,
            "module": service.server.module if service.server else "",
            "stats": service_stats(service=service),
        }
        return Response(ServiceStatsSerializer(data).data)
