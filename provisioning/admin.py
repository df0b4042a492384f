"""Staff screens for customer services."""

from django.contrib import admin

from provisioning.models import Service, ServiceOption


class ServiceOptionInline(admin.TabularInline):
    model = ServiceOption
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("__str__", "customer", "status", "cycle", "recurring_amount", "next_due_date")
    list_filter = ("status", "cycle", "product")
    search_fields = ("domain", "hostname", "customer__name", "customer__user__email")
    list_select_related = ("customer", "product")
    raw_id_fields = ("customer", "order")
    readonly_fields = ("created_at", "activated_at", "suspended_at", "terminated_at",
                       "cancelled_at")  # fmt: skip
    inlines = [ServiceOptionInline]
