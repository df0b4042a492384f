"""Service reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Customer
from billing_portal.common.audit import AuditEvent
from catalogue.models import Product
from provisioning.audit import ProvisioningAudit
from provisioning.models import (
    AutomaticBackup,
    CancellationRequest,
    ProductBackupPolicy,
    ProductPlacement,
    ProvisioningOperation,
    Server,
    ServerGroup,
    Service,
    ServiceBackupSetting,
    SitePlan,
)

S = Service.Status
SETTING_UP_STATUSES = (S.PENDING, S.PROVISIONING, S.FAILED)
# Running services first, then those on their way, then those stopped.
STATUS_DISPLAY_ORDER = (
    S.ACTIVE,
    S.PROVISIONING,
    S.PENDING,
    S.FAILED,
    S.SUSPENDED,
    S.CANCELLED,
    S.TERMINATED,
)


def service_list_for_customer(
    *, customer: Customer, status: str | None = None
) -> QuerySet[Service]:
    services = Service.objects.filter(customer=customer)
    if status:
        services = services.filter(status=status)
    services = services.select_related("product").prefetch_related("gateway_subscriptions")
    return services.order_by("-created_at", "-id")


def service_counts_for_customer(*, customer: Customer) -> list[tuple[str, str, int]]:
    """(status, label, count) for each status the customer has services in, running ones
    first; one query."""
    counts = dict(
        Service.objects.filter(customer=customer)
        .order_by()
        .values_list("status")
        .annotate(count=Count("id"))
    )
    return [
        (status, S(status).label, counts[status])
        for status in STATUS_DISPLAY_ORDER
        if status in counts
    ]


def services_setting_up_for_customer(*, customer: Customer) -> QuerySet[Service]:
    """Services not running yet: awaiting their first payment, being set up, or whose set-up
    failed (staff finish those); oldest first."""
    return (
        Service.objects.filter(customer=customer, status__in=SETTING_UP_STATUSES)
        .select_related("product")
        .order_by("created_at", "id")
    )


def service_current_of_module(*, customer: Customer, module: str) -> Service | None:
    """The customer's newest service of a module's product that has not ended (pending,
    being set up, running or suspended), e.g. their DNS plan; None when there is none."""
    live = (S.PENDING, S.PROVISIONING, S.FAILED, S.ACTIVE, S.SUSPENDED)
    return (
        Service.objects.filter(customer=customer, product__module=module, status__in=live)
        .select_related("product")
        .order_by("-created_at", "-id")
        .first()
    )


def services_active_of_module(*, customer: Customer, module: str) -> list[Service]:
    """The customer's running services of a module's products (e.g. their support
    subscriptions), also those on the sandbox standing in for it, newest first."""
    of_module = Q(product__module=module) | Q(
        product__module="sandbox", product__module_settings__stands_in_for=module
    )
    return list(
        Service.objects.filter(of_module, customer=customer, status=S.ACTIVE)
        .select_related("product")
        .order_by("-created_at", "-id")
    )


def service_get_for_customer(*, customer: Customer, service_id: int) -> Service:
    """The customer's own service (DoesNotExist for anyone else's)."""
    return Service.objects.select_related("product", "server").get(pk=service_id, customer=customer)


def product_server_group(*, product: Product) -> ServerGroup | None:
    """The server group new services of `product` go to (None: not placed anywhere)."""
    try:
        return product.placement.server_group
    except ProductPlacement.DoesNotExist:
        return None


# What a product's service takes of its server (ProductPlacement) -> the server's capacity.
RESOURCES = (
    ("memory_mb", "capacity_memory_mb"),
    ("disk_gb", "capacity_disk_gb"),
    ("cpu_cores", "capacity_cpu"),
)
# Services that hold their share of a server: as long as they hold its account slot
# (placed at order time, given back when cancelled or terminated).
HOLDING_STATUSES = (S.PENDING, S.PROVISIONING, S.ACTIVE, S.SUSPENDED, S.FAILED)


def product_resources(*, product: Product) -> dict[str, int]:
    """The resources one service of `product` declares (only those it uses)."""
    try:
        placement = product.placement
    except ProductPlacement.DoesNotExist:
        return {}
    needs = {resource: getattr(placement, resource) for resource, _capacity in RESOURCES}
    return {resource: need for resource, need in needs.items() if need}


def _used(resource: str) -> Coalesce:
    """The sum of `resource` declared by the services a server holds, as a subquery."""
    totals = (
        Service.objects.filter(server=OuterRef("pk"), status__in=HOLDING_STATUSES)
        .order_by()
        .values("server")
        .annotate(total=Sum(f"product__placement__{resource}"))
        .values("total")
    )
    return Coalesce(Subquery(totals), Value(0))


def _with_resources(servers: QuerySet[Server], needs: dict[str, int]) -> QuerySet[Server]:
    """Those servers with room for `needs` on every dimension they limit (an empty
    capacity is not limited); one statement with a subquery per resource needed."""
    for resource, capacity in RESOURCES:
        need = needs.get(resource)
        if not need:
            continue
        used = f"used_{resource}"
        servers = servers.annotate(**{used: _used(resource)}).filter(
            Q(**{f"{capacity}__isnull": True}) | Q(**{f"{capacity}__gte": F(used) + need})
        )
    return servers


def servers_with_room(*, product: Product) -> QuerySet[Server]:
    """Active, online servers of the product's group and module with a free account slot
    and room for the product's declared memory, disk and CPU (what their live services
    declare counted against each capacity), best first by the group's placement strategy."""
    group = product_server_group(product=product)
    servers = Server.objects.filter(
        group=group,
        module=product.module,
        is_active=True,
        is_online=True,
        current_accounts__lt=F("capacity_accounts"),
    )
    if group is None:
        return servers.none()
    servers = _with_resources(servers, product_resources(product=product))
    if group.strategy == ServerGroup.Strategy.FILL_FIRST:
        return servers.order_by("-current_accounts", "pk")
    share = ExpressionWrapper(
        F("current_accounts") * 1.0 / F("capacity_accounts"), output_field=FloatField()
    )
    return servers.annotate(share=share).order_by("share", "pk")


# How each resource is named to a customer.
RESOURCE_NAMES = {"memory_mb": "memory", "disk_gb": "disk space", "cpu_cores": "CPU cores"}


def plan_change_extra_resources(*, service: Service, to_product: Product) -> dict[str, int]:
    """What `to_product` declares above the service's current plan, resource by resource
    (only those it declares more of: none for a downgrade)."""
    current = product_resources(product=service.product)
    return {
        resource: need - current.get(resource, 0)
        for resource, need in product_resources(product=to_product).items()
        if need > current.get(resource, 0)
    }


def plan_change_resources_short(*, service: Service, to_product: Product) -> list[str]:
    """The resources (RESOURCES' names) the service's own server lacks for moving it to
    `to_product`: what the new plan declares above the current one, against the server's
    capacity less what its services declare (this one counted on its current plan), as
    placement counts them. Empty when it fits; a plan that declares no more of anything
    (a downgrade) always fits, and so does a service on no server."""
    extra = plan_change_extra_resources(service=service, to_product=to_product)
    if service.server_id is None or not extra:
        return []
    servers = Server.objects.filter(pk=service.server_id)
    return [
        resource
        for resource, more in extra.items()
        if not _with_resources(servers, {resource: more}).exists()
    ]


def product_is_placed(*, product: Product) -> bool:
    """Whether new services of `product` go to a panel server (a module and a group)."""
    return bool(product.module) and product_server_group(product=product) is not None


def product_has_room(*, product: Product) -> bool:
    """Whether a new service of `product` could be placed now (products without a module
    always can)."""
    if not product_is_placed(product=product):
        return True
    return servers_with_room(product=product).exists()


def site_plan_for(*, service: Service) -> SitePlan | None:
    """The WordPress plan (resources and quotas) a site service is on, if any (also on the
    sandbox, when its product stands in for the WordPress module)."""
    settings = service.product.module_settings
    module = service.product.module
    if module == "sandbox":
        module = str(settings.get("stands_in_for", ""))
    if module != "wordpress":
        return None
    return SitePlan.objects.filter(name=service.product.module_settings.get("plan")).first()


def service_operation_for_customer(
    *, customer: Customer, service_id: int, operation_id: int
) -> ProvisioningOperation:
    """One operation of the customer's own service (DoesNotExist for anyone else's)."""
    return ProvisioningOperation.objects.select_related("service").get(
        pk=operation_id, service_id=service_id, service__customer=customer
    )


def service_recent_actions(*, service: Service, limit: int = 5) -> list[ProvisioningOperation]:
    """The service's latest customer actions, newest first (on prov_operation_service_idx)."""
    actions = service.operations.filter(kind=ProvisioningOperation.Kind.ACTION)
    return list(actions.order_by("-created_at")[:limit])


def service_suspension_reason(*, service: Service) -> str:
    """Why the service was last suspended, as the suspension email told its customer (the
    audit trail keeps it for services with a panel and without; on its object index)."""
    event = (
        AuditEvent.objects.filter(
            object_type=Service._meta.label_lower,
            object_id=str(service.pk),
            action=ProvisioningAudit.SERVICE_SUSPENDED,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    return str(event.details.get("reason", "")) if event is not None else ""


def service_cancellation_open(*, service: Service) -> CancellationRequest | None:
    """The open (requested) cancellation of a service the caller already scoped."""
    return CancellationRequest.objects.filter(
        service=service, status=CancellationRequest.Status.REQUESTED
    ).first()


@dataclass(frozen=True)
class CancellationReportRow:
    label: str
    requested: int  # every request in the range, withdrawn ones included
    withdrawn: int
    completed: int


@dataclass(frozen=True)
class CancellationReport:
    start: date
    end: date
    by_reason: list[CancellationReportRow]
    by_product: list[CancellationReportRow]
    total: CancellationReportRow


def _report_rows(
    requests: QuerySet[CancellationRequest], key: str
) -> list[tuple[str, int, int, int]]:
    status = CancellationRequest.Status
    return list(
        requests.order_by()
        .values_list(key)
        .annotate(
            requested=Count("id"),
            withdrawn=Count("id", filter=Q(status=status.WITHDRAWN)),
            completed=Count("id", filter=Q(status=status.COMPLETED)),
        )
        .order_by("-requested", key)
    )


def cancellation_report(*, start: date, end: date) -> CancellationReport:
    """Cancellation requests made from `start` to `end` (both included, local days), counted
    by reason and by product (two grouped queries, however many requests)."""
    tz = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    requests = CancellationRequest.objects.filter(requested_at__gte=since, requested_at__lt=until)
    reasons = dict(CancellationRequest.Reason.choices)
    by_reason = [
        CancellationReportRow(str(reasons.get(key, key)), *counts)
        for key, *counts in _report_rows(requests, "reason")
    ]
    by_product = [
        CancellationReportRow(name, *counts)
        for name, *counts in _report_rows(requests, "service__product__name")
    ]
    total = CancellationReportRow(
        "All",
        sum(row.requested for row in by_reason),
        sum(row.withdrawn for row in by_reason),
        sum(row.completed for row in by_reason),
    )
    return CancellationReport(start, end, by_reason, by_product, total)


@dataclass(frozen=True)
class AutoBackupsState:
    """What a service's page shows of its automatic backups."""

    policy: ProductBackupPolicy
    enabled: bool  # they run for this service
    can_toggle: bool  # the customer may turn them on or off
    last: AutomaticBackup | None  # the latest slot's backup (made, failed or on its way)
    last_made: AutomaticBackup | None  # the latest one that was made
    last_error: str = ""  # why the latest failed, as a customer may read it


def auto_backups_for_service(*, service: Service) -> AutoBackupsState | None:
    """The service's automatic backups as its page shows them; None when its product has
    none (on the unique (service, slot) index, newest slot first)."""
    policy = ProductBackupPolicy.objects.filter(product_id=service.product_id).first()
    if policy is None:
        return None
    setting = ServiceBackupSetting.objects.filter(service=service).first()
    enabled = setting is None or setting.enabled or not policy.customer_may_disable
    from provisioning.services.actions import customer_error_message

    rows = AutomaticBackup.objects.filter(service=service).order_by("-slot")
    made = (AutomaticBackup.Status.SUCCEEDED, AutomaticBackup.Status.ROTATED)
    last = rows.first()
    failed = last is not None and last.status == AutomaticBackup.Status.FAILED
    return AutoBackupsState(
        policy=policy,
        enabled=enabled,
        can_toggle=policy.customer_may_disable,
        last=last,
        last_made=rows.filter(status__in=made).first(),
        last_error=customer_error_message(last.last_error) if failed and last else "",
    )


# --- Staff (the staff API): every customer's, for staff whose role lets them see it ------


def server_list_for_staff() -> QuerySet[Server]:
    """Every panel server (tens of rows), by group then name, as the admin lists them."""
    return Server.objects.select_related("group").order_by("group__name", "name", "id")


def server_get_for_staff(*, server_id: int) -> Server:
    return Server.objects.select_related("group").get(pk=server_id)


def service_list_for_staff() -> QuerySet[Service]:
    """Every customer's services, newest first (on prov_service_created_idx)."""
    return Service.objects.select_related("customer__user", "product", "server").order_by(
        "-created_at", "-id"
    )


def service_get_for_staff(*, service_id: int) -> Service:
    return Service.objects.select_related("customer__user", "product", "server").get(pk=service_id)


# --- Staff (the staff API; the role's permission is the caller's to check) -------------------

# What waits for staff in the operations queue: failed for good, or to be checked on the
# panel before anything is sent again.
OPERATION_QUEUE_STATUSES = (
    ProvisioningOperation.Status.FAILED,
    ProvisioningOperation.Status.UNCERTAIN,
)


def operation_queue_for_staff() -> QuerySet[ProvisioningOperation]:
    """The failed queue, newest first (on the created-at index)."""
    return (
        ProvisioningOperation.objects.filter(status__in=OPERATION_QUEUE_STATUSES)
        .select_related("service__product", "service__customer")
        .order_by("-created_at", "-id")
    )
