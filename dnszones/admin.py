"""Staff screens of the DNS app: what each customer's plan allows (DNS plans are catalogue
products, their subscriptions services), every customer's zones with their records, and the
push operations (read-only; `manage.py dns_reconcile` repairs drift)."""

from django.contrib import admin, messages

from billing_portal.common.admin import LargeTableAdminMixin, ReadOnlyAdminMixin, permission_check
from billing_portal.common.errors import DomainError
from dnszones import services
from dnszones.models import DnsAllowance, DnsOperation, Record, Zone


@admin.register(DnsAllowance)
class DnsAllowanceAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each customer's DNS plan allows: written by the `dns` provisioning module when
    the plan's service is set up, changed, suspended or ended (staff act on the service)."""

    list_display = ("customer", "plan_name", "domain_limit", "record_limit", "serving")
    list_filter = ("serving",)
    search_fields = ("customer__name", "customer__user__email", "service_ref")
    list_select_related = ("customer",)


class RecordInline(admin.TabularInline):
    model = Record
    extra = 0
    can_delete = False
    fields = ("name", "type", "ttl", "content", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Zone)
class ZoneAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Changes go through the customer's editor (and its checks); staff see every zone and
    can push it again or repair drift."""

    list_display = ("name", "customer", "status", "serial", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "customer__name", "customer__user__email")
    list_select_related = ("customer",)
    inlines = [RecordInline]
    actions = ["reconcile"]

    has_reconcile_permission = permission_check("dns.reconcile_zone")

    @admin.action(
        description="Compare with the DNS server and repair drift (all zones)",
        permissions=["reconcile"],
    )
    def reconcile(self, request, queryset) -> None:
        try:
            counts = services.dns_reconcile()
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            "Checked {zones} zones: {created} created, {repaired_sets} "
            "sets repaired, {removed} removed.".format(**counts),
        )


@admin.register(DnsOperation)
class DnsOperationAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "zone_name",
        "kind",
        "rrset_name",
        "rrset_type",
        "status",
        "attempts",
        "last_error",
    )
    list_filter = ("status", "kind")
    search_fields = ("zone_name", "last_error")
