"""Staff screens for the catalogue: product groups, products with their prices and options,
coupons and tax rates, edited freely, and the orders placed from it. Provisioning adds where a
product's services are placed (and checks its module settings) from its own admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from billing_portal.common.admin import AutocompleteAdminMixin, LargeTableAdminMixin
from catalogue.models import (
    ConfigurableOption,
    ConfigurableOptionPrice,
    Coupon,
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
