"""Staff screens for the catalogue: product groups, products with their prices and options,
coupons and tax rates, edited freely, the orders placed from it, and client groups (pricing
tiers: their discounts, and which customers are in them, set through the audited service).
Provisioning adds where a product's services are placed (and checks its module settings)
from its own admin."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing_portal.common.admin import AutocompleteAdminMixin, LargeTableAdminMixin
from billing_portal.common.request import RequestMeta
from catalogue import services
from catalogue.models import (
    ClientGroup,
    ClientGroupDiscount,
    ConfigurableOption,
    ConfigurableOptionPrice,
    Coupon,
    CustomerGroup,
    Order,
    Product,
    ProductGroup,
    ProductPrice,
    TaxRate,
    TrialRedemption,
)


class ProductPriceInline(admin.TabularInline):
    model = ProductPrice
    extra = 1


class ConfigurableOptionInline(admin.TabularInline):
    model = ConfigurableOption
    extra = 0
    show_change_link = True


@admin.register(ProductGroup)
class ProductGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_visible", "sort_order")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "group", "kind", "module", "is_visible", "stock_limit")
    list_filter = ("kind", "group", "is_visible")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ("group",)
    inlines = [ProductPriceInline, ConfigurableOptionInline]


class ConfigurableOptionPriceInline(admin.TabularInline):
    model = ConfigurableOptionPrice
    extra = 1


@admin.register(ConfigurableOption)
class ConfigurableOptionAdmin(admin.ModelAdmin):
    list_display = ("name", "product", "unit_label", "min_quantity", "max_quantity")
    list_select_related = ("product",)
    search_fields = ("name", "product__name")
    inlines = [ConfigurableOptionPriceInline]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ("code", "kind", "percent", "amount", "applies", "expires_at", "is_active")
    list_filter = ("kind", "applies", "is_active")
    search_fields = ("code",)
    filter_horizontal = ("products",)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "region", "rate", "is_active")
    list_filter = ("is_active", "country")


@admin.register(Order)
class OrderAdmin(LargeTableAdminMixin, AutocompleteAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "status", "coupon", "created_at")
    list_filter = ("status",)
    search_fields = ("customer__name", "customer__user__email")
    list_select_related = ("customer", "coupon")
    autocomplete_fields = ("customer",)
    readonly_fields = ("created_at", "cancelled_at", "free_trial")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # its invoices and services PROTECT it

    @admin.display(description="free trial")
    def free_trial(self, obj: Order) -> str:
        """The trial the order started (the redemption is written by order placement)."""
        redemption = TrialRedemption.objects.filter(order=obj).first()
        if redemption is None:
            return "-"
        return f"{redemption.days} days, free until {redemption.ends_on:%Y-%m-%d}"


def client_group_badge(group: ClientGroup | None) -> SafeString | str:
    """The group's name on its colour, as staff see it next to a customer."""
    if group is None:
        return "-"
    return format_html(
        '<span style="background:{};color:#fff;padding:1px 6px;border-radius:8px">{}</span>',
        group.colour,
        group.name,
    )


class ClientGroupDiscountInline(admin.TabularInline):
    model = ClientGroupDiscount
    extra = 1
    fields = ("product_group", "percent", "includes_setup_fees")


@admin.register(ClientGroup)
class ClientGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "badge", "member_count")
    search_fields = ("name",)
    inlines = [ClientGroupDiscountInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClientGroup]:
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description="badge")
    def badge(self, obj: ClientGroup) -> SafeString | str:
        return client_group_badge(obj)

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj: ClientGroup) -> int:
        return getattr(obj, "member_total", 0)

    def has_delete_permission(self, request: HttpRequest, obj: ClientGroup | None = None) -> bool:
        # A group with members PROTECTs them: move them out first (audited, one by one).
        if obj is not None and obj.members.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(CustomerGroup)
class CustomerGroupAdmin(LargeTableAdminMixin, AutocompleteAdminMixin, admin.ModelAdmin):
    """Who is in which group. Every change goes through `customer_group_set` (audited; only
    invoices priced afterwards see it)."""

    list_display = ("customer", "group_badge", "joined_at")
    list_filter = ("group",)
    search_fields = ("customer__name", "customer__user__email")
    list_select_related = ("customer", "group")
    autocomplete_fields = ("customer",)
    fields = ("customer", "group", "joined_at")
    readonly_fields = ("joined_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: CustomerGroup | None = None):
        # The customer is the membership's key: another customer is another membership.
        return ("customer", "joined_at") if obj is not None else ("joined_at",)

    @admin.display(description="group", ordering="group__name")
    def group_badge(self, obj: CustomerGroup) -> SafeString | str:
        return client_group_badge(obj.group)

    def save_model(self, request: HttpRequest, obj: CustomerGroup, form, change: bool) -> None:
        saved = services.customer_group_set(
            customer_id=obj.customer_id,
            group=obj.group,
            actor=request.user,
            meta=RequestMeta.from_request(request),
        )
        if saved is not None:
            obj.pk, obj.joined_at = saved.pk, saved.joined_at

    def delete_model(self, request: HttpRequest, obj: CustomerGroup) -> None:
        services.customer_group_set(
            customer_id=obj.customer_id,
            group=None,
            actor=request.user,
            meta=RequestMeta.from_request(request),
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CustomerGroup]) -> None:
        for membership in queryset:
            self.delete_model(request, membership)
