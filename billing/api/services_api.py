"""Customer API: the self-service a service's page offers (its module's actions and their
progress, automatic backups, plan and add-on changes) and its cancellation. Each view calls
the service the client area's view calls (billing/views/self_service*.py, provisioning.py,
cancellation.py), so the refusals read the same; another customer's service is a 404."""

from __future__ import annotations

import hashlib
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentMixin
from accounts.models import ApiKey
from billing import services as billing
from billing.api import services_api_serializers as io
from billing.api.views import CustomerApi
from billing.models import ServiceChange
from billing.services.site_domains import site_domain_add_via_zone
from billing.views.cancellation import _done_message
from billing.views.self_service import FINAL, _over_rate
from billing_portal.common.api_errors import ApiError, ErrorSerializer
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta
from provisioning.errors import NoServerCapacity, PanelError, PlanNotAvailable
from provisioning.forms import OPTION_PREFIX, PlanChangeForm
from provisioning.models import CancellationRequest, ProvisioningOperation, Service
from provisioning.selectors import (
    service_get_for_customer,
    service_operation_for_customer,
)
from provisioning.services import plan_change_quote, plan_change_targets, service_login_url
from provisioning.services.actions import (
    action_label,
    action_secret_take,
    actions_for,
    customer_error_message,
    service_action_request,
)
from provisioning.services.backups import service_auto_backups_set

Op = ProvisioningOperation
REFUSED = {400: ErrorSerializer, 404: ErrorSerializer}
POSTED = {**REFUSED, 409: ErrorSerializer, 422: ErrorSerializer}
OVER_RATE = "You started many actions on this service in a short time; wait a minute and try again."


class ServiceApi(CustomerApi):
    """The caller's own service, by the route's `pk` (404 for anyone else's)."""

    required_scope = ApiKey.Scope.SERVICES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # Another customer's service is a 404 before the body is read: a refusal of the
        # body would tell the caller the id exists.
        if "pk" in self.kwargs:
            self.service()

    def service(self) -> Service:
        return service_get_for_customer(customer=self.customer, service_id=self.object_id())

    def meta(self) -> RequestMeta:
        return RequestMeta.from_request(self.request)


def _click_key(reference: str) -> str:
    """The one-time click token an action is keyed by: on a page, the page's; here, the
    Idempotency-Key's reference (the same key, the same operation)."""
    return hashlib.sha256(reference.encode()).hexdigest()[:32]


def operation_data(operation: Op, *, take_secret: bool = True) -> dict[str, Any]:
    """An action's state as its status box shows it; a secret result is taken (once). The
    answer to a POST never holds one: it is stored for replays."""
    final = operation.status in FINAL
    secret: dict[str, Any] = {}
    if take_secret and operation.status == Op.Status.SUCCEEDED and operation.secret_result:
        secret = action_secret_take(customer=operation.service.customer, operation_id=operation.pk)
    return {
        "id": operation.pk,
        "service": operation.service_id,
        "label": action_label(operation),
        "status": operation.status,
        "final": final,
        "created_at": operation.created_at,
        "error": customer_error_message(operation.last_error) if operation.last_error else "",
        "result": operation.response_summary.get("result", {}) if final else {},
        "secret": {key: str(value) for key, value in secret.items()},
    }


@extend_schema_view(
    get=extend_schema(
        operation_id="service_actions_list",
        responses={200: io.ActionSerializer(many=True), 404: ErrorSerializer},
        description="The actions the service's page offers now (none unless it is active).",
    )
)
class ServiceActionListApi(ServiceApi):
    required_scope = ApiKey.Scope.READ

    def get(self, request: Request, pk: int) -> Response:
        service = self.service()
        shown = actions_for(service) if service.status == Service.Status.ACTIVE else {}
        rows = [
            {"name": a.name, "label": a.label, "confirm": a.confirm, "repeatable": a.repeatable}
            for a in shown.values()
        ]
        return Response(io.ActionSerializer(rows, many=True).data)


@extend_schema_view(
    post=extend_schema(
        operation_id="service_action_start",
        request=io.ActionInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: io.OperationSerializer, 429: ErrorSerializer, **POSTED},
        description=(
            "Start an action (`name`, from the service's actions) on an active service; it "
            "runs on the panel in the background: follow it at its operation. Needs the "
            "`services` scope and an Idempotency-Key (one key, one action)."
        ),
    )
)
class ServiceActionApi(IdempotentMixin, ServiceApi):
    def idempotent_post(self, request: Request, pk: int, name: str) -> Response:
        customer = self.customer
        service_id = self.object_id()
        if _over_rate(request._request, customer.pk, service_id):
            raise exceptions.Throttled(wait=60, detail=OVER_RATE)
        data = _valid(io.ActionInput, request)
        operation = service_action_request(
            customer=customer,
            service_id=service_id,
            action=name,
            params=data["params"],
            click_key=_click_key(self.idempotency_reference),
            confirmation=data["confirm"],
            actor=request.user,
            meta=self.meta(),
        )
        body = io.OperationSerializer(operation_data(operation, take_secret=False)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    get=extend_schema(
        operation_id="service_operation_retrieve",
        responses={200: io.OperationSerializer, 404: ErrorSerializer},
        description=(
            "An action's state; once it has succeeded, a secret result (a new password) is "
            "in `secret` on the first read only."
        ),
    )
)
class ServiceOperationApi(ServiceApi):
    required_scope = ApiKey.Scope.READ

    def get(self, request: Request, pk: int, operation_id: int) -> Response:
        if operation_id > 2**63 - 1:
            raise exceptions.NotFound()
        operation = service_operation_for_customer(
            customer=self.customer, service_id=self.object_id(), operation_id=operation_id
        )
        if operation.kind != Op.Kind.ACTION:
            raise exceptions.NotFound()  # a lifecycle call is staff's, not the customer's
        return Response(io.OperationSerializer(operation_data(operation)).data)


@extend_schema_view(
    post=extend_schema(
        operation_id="service_site_domain_via_zone",
        request=io.SiteDomainInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: io.OperationSerializer, 429: ErrorSerializer, **POSTED},
        description=(
            "A WordPress site's custom domain in one step: the domain's record in your own "
            "zone here points at the site, and the site adds the domain (an action: follow "
            "it at its operation). Needs the `services` scope and an Idempotency-Key."
        ),
    )
)
class ServiceSiteDomainViaZoneApi(IdempotentMixin, ServiceApi):
    def idempotent_post(self, request: Request, pk: int) -> Response:
        customer = self.customer
        service_id = self.object_id()
        if _over_rate(request._request, customer.pk, service_id):
            raise exceptions.Throttled(wait=60, detail=OVER_RATE)
        operation = site_domain_add_via_zone(
            customer=customer,
            service_id=service_id,
            domain=_valid(io.SiteDomainInput, request)["domain"],
            click_key=_click_key(self.idempotency_reference),
            actor=request.user,
            meta=self.meta(),
        )
        body = io.OperationSerializer(operation_data(operation, take_secret=False)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    post=extend_schema(
        operation_id="service_login_link",
        request=None,
        responses={200: io.LoginLinkSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description=(
            "A sign-on link to the service's control panel (one-time where the panel offers "
            "single sign-on, so it is made when asked for); 409 when there is none now."
        ),
    )
)
class ServiceLoginApi(ServiceApi):
    required_scope = ApiKey.Scope.READ

    def post(self, request: Request, pk: int) -> Response:
        service = self.service()
        try:
            url = service_login_url(service=service)
        except PanelError as error:
            raise ApiError(
                f"The control panel cannot be reached right now: {error}",
                code="panel_unreachable",
                status=409,
            ) from error
        if not url:
            raise ApiError(
                "This service has no control panel to log in to.", code="no_panel", status=409
            )
        return Response(io.LoginLinkSerializer({"url": request.build_absolute_uri(url)}).data)


@extend_schema_view(
    post=extend_schema(
        operation_id="service_auto_backups_set",
        request=io.AutoBackupsInput,
        responses={200: io.AutoBackupsOutput, **REFUSED},
        description="Turn automatic backups on or off, where the product lets customers.",
    )
)
class ServiceAutoBackupsApi(ServiceApi):
    def post(self, request: Request, pk: int) -> Response:
        enabled = _valid(io.AutoBackupsInput, request)["enabled"]
        service_auto_backups_set(
            customer=self.customer,
            service_id=self.object_id(),
            enabled=enabled,
            actor=request.user,
            meta=self.meta(),
        )
        done = "Automatic backups are on." if enabled else "Automatic backups are off."
        return Response(io.AutoBackupsOutput({"enabled": enabled, "detail": done}).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="service_plan_change_options",
        responses={200: io.PlanChangeOptionsSerializer, 404: ErrorSerializer},
        description="The plans the service can move to, with the prorated price of each.",
    ),
    post=extend_schema(
        operation_id="service_plan_change",
        request=io.PlanChangeInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: io.PlanChangeSerializer, **POSTED},
        description=(
            "Change plan or add-ons: an upgrade is invoiced (applied when paid), a downgrade "
            "credited and applied at once. Needs the `services` scope and an Idempotency-Key."
        ),
    ),
)
class ServicePlanChangeApi(IdempotentMixin, ServiceApi):
    def get(self, request: Request, pk: int) -> Response:
        service = self.service()
        quotes: list[Any] = []
        unavailable: list[dict[str, Any]] = []
        problem = ""
        try:
            for target in plan_change_targets(service=service):
                try:
                    quotes.append(plan_change_quote(service=service, to_product=target))
                except (NoServerCapacity, PlanNotAvailable) as error:  # this plan only
                    unavailable.append(
                        {"product": target.pk, "name": target.name, "detail": error.message}
                    )
        except DomainError as error:
            problem = error.message
        data = {"quotes": quotes, "unavailable": unavailable, "problem": problem}
        return Response(io.PlanChangeOptionsSerializer(data).data)

    def idempotent_post(self, request: Request, pk: int) -> Response:
        service = self.service()
        data = _valid(io.PlanChangeInput, request)
        form = PlanChangeForm(_plan_form_data(data), service=service)
        if not form.is_valid():  # the page's own checks and messages
            raise exceptions.ValidationError(_form_errors(form))
        change = billing.plan_change_request(
            customer=self.customer,
            service_id=service.pk,
            to_product_id=form.cleaned_data["product"].pk,
            actor=request.user,
            option_quantities=form.option_quantities(),
        )
        body = io.PlanChangeSerializer(_change_data(change)).data
        return Response(body, status=status.HTTP_201_CREATED)


def _plan_form_data(data: dict[str, Any]) -> dict[str, str]:
    form = {"product": str(data["product"])}
    for option_id, quantity in (data["options"] or {}).items():
        form[f"{OPTION_PREFIX}{option_id}"] = str(quantity)
    return form


def _form_errors(form: Any) -> dict[str, list[str]]:
    """A form's errors under the API's field names (`option_3` is `options`)."""
    errors: dict[str, list[str]] = {}
    for name, messages in form.errors.items():
        field = "options" if name.startswith(OPTION_PREFIX) else name
        field = "non_field_errors" if field == "__all__" else field
        errors.setdefault(field, []).extend(messages)
    return errors


def _change_data(change: ServiceChange) -> dict[str, Any]:
    return {
        "id": change.pk,
        "service": change.service_id,
        "to_product": change.to_product_id,
        "status": change.status,
        "prorated_difference": change.prorated_difference,
        "invoice": change.invoice_id,
        "detail": _change_done(change),
    }


def _change_done(change: ServiceChange) -> str:
    if change.invoice_id:
        return "Pay this invoice to upgrade; the new plan starts then."
    credited = -change.prorated_difference
    note = f" {credited} was added to your account credit." if credited.amount > 0 else ""
    return (
        f"Your service now has the {change.to_product.name} plan and the add-ons you chose.{note}"
    )


@extend_schema_view(
    post=extend_schema(
        operation_id="service_cancellation_quote",
        request=io.CancellationQuoteInput,
        responses={200: io.CancellationQuoteSerializer, **REFUSED},
        description="What cancelling this way would do (the end day, a refund); no change.",
    )
)
class ServiceCancellationQuoteApi(ServiceApi):
    def post(self, request: Request, pk: int) -> Response:
        kind = _valid(io.CancellationQuoteInput, request)["kind"]
        quote = billing.cancellation_quote(service=self.service(), kind=kind)
        return Response(io.CancellationQuoteSerializer(quote).data)


@extend_schema_view(
    post=extend_schema(
        operation_id="service_cancellation_request",
        request=io.CancellationInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: io.CancellationSerializer, **POSTED},
        description=(
            "Cancel the service at the end of its paid period (withdrawable until then) or at "
            "once (unused time refunded to credit where the product says so). Needs the "
            "`services` scope and an Idempotency-Key."
        ),
    )
)
class ServiceCancellationApi(IdempotentMixin, ServiceApi):
    def idempotent_post(self, request: Request, pk: int) -> Response:
        data = _valid(io.CancellationInput, request)
        done = billing.service_cancellation_request(
            customer=self.customer,
            service_id=self.object_id(),
            kind=data["kind"],
            reason=data["reason"],
            reason_text=data["reason_text"],
            actor=request.user,
            meta=self.meta(),
        )
        body = io.CancellationSerializer(_cancellation_data(done, _done_message(done))).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        operation_id="service_cancellation_withdraw",
        request=None,
        responses={200: io.CancellationSerializer, **REFUSED},
        description="Withdraw a pending end-of-period cancellation: the service continues.",
    )
)
class ServiceCancellationWithdrawApi(ServiceApi):
    def post(self, request: Request, pk: int) -> Response:
        done = billing.service_cancellation_withdraw(
            customer=self.customer,
            service_id=self.object_id(),
            actor=request.user,
            meta=self.meta(),
        )
        detail = "The cancellation is withdrawn: your service continues."
        return Response(io.CancellationSerializer(_cancellation_data(done, detail)).data)


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _cancellation_data(done: CancellationRequest, detail: str) -> dict[str, Any]:
    return {
        "id": done.pk,
        "service": done.service_id,
        "kind": done.kind,
        "status": done.status,
        "effective_on": done.effective_on,
        "refund": done.refund,
        "detail": detail,
    }
