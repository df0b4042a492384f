"""Staff screens of VPS token purchases (read-only, granted and resolved through the token
services, always with a reason) and refund shortfalls (resolved with a note)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts.models import Customer
from billing import services as billing
from billing.models import RefundShortfall, TokenPurchase
from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    autocomplete,
    permission_check,
)
from billing_portal.common.errors import DomainError


class TokenGrantForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(), widget=autocomplete(TokenPurchase, "customer")
    )
    tokens = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class TokenResolveForm(forms.Form):
    ACTIONS = {
        "retry": "Send to VirtFusion again (for 'needs checking': I checked it is not there)",
        "mark_delivered": "VirtFusion has it: mark as added (give its credit id)",
        "convert": "Give account credit for what was paid instead",
        "refund": "Refund the payment",
        "cancel": "Cancel the tokens in VirtFusion",
    }
    action = forms.ChoiceField(widget=forms.RadioSelect)
    virtfusion_credit_id = forms.IntegerField(required=False, min_value=1)
    note = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, credit: TokenPurchase, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(a, self.ACTIONS[a]) for a in _actions_for(credit)]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("action") == "mark_delivered" and not data.get("virtfusion_credit_id"):
            self.add_error("virtfusion_credit_id", "Give the credit id VirtFusion shows.")
        return data


def _actions_for(credit: TokenPurchase) -> list[str]:
    status, purchase = credit.status, credit.invoice_id is not None
    actions = []
    if status in TokenPurchase.STAFF_RESOLVABLE:
        actions.append("retry")
    if status == TokenPurchase.Status.UNCERTAIN:
        actions.append("mark_delivered")
    if purchase and status in TokenPurchase.STAFF_RESOLVABLE:
        actions.append("convert")
    if purchase and status in (TokenPurchase.Status.UNCERTAIN, TokenPurchase.Status.FAILED):
        actions.append("refund")
    if status == TokenPurchase.Status.DELIVERED:
        actions.append("cancel")
    return actions


@admin.register(TokenPurchase)
class TokenPurchaseAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "customer",
        "source",
        "tokens",
        "amount",
        "status",
        "attempts",
        "virtfusion_credit_id",
        "last_error",
    )
    # Date ranges without a query (date_hierarchy would read every row's date).
    list_filter = ("status", "source", ("created_at", admin.DateFieldListFilter))
    search_fields = ("customer__name", "customer__user__email", "invoice__number")
    list_select_related = ("customer",)
    change_form_template = "admin/billing/tokenpurchase/change_form.html"
    change_list_template = "admin/billing/tokenpurchase/change_list.html"

    has_manage_tokens_permission = permission_check("billing.manage_tokens")

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "add-tokens/", site.admin_view(self.grant_view), name="billing_tokenpurchase_grant"
            ),
            path(
                "<int:pk>/resolve/",
                site.admin_view(self.resolve_view),
                name="billing_tokenpurchase_resolve",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        attention = (TokenPurchase.Status.UNCERTAIN, TokenPurchase.Status.FAILED)
        needs = TokenPurchase.objects.filter(status__in=attention).count()
        return super().changelist_view(request, {**(extra_context or {}), "needs_attention": needs})

    def _render(self, request: HttpRequest, title: str, form: forms.Form) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/staff_form.html", context)

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_manage_tokens_permission(request):
            raise PermissionDenied
        form = TokenGrantForm(
            request.POST or None, initial={"customer": request.GET.get("customer")}
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                credit = billing.tokens_add_by_staff(
                    customer=data["customer"],
                    tokens=data["tokens"],
                    reason=data["reason"],
                    staff=request.user,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "The tokens are being added.", messages.SUCCESS)
                return redirect("admin:billing_tokenpurchase_change", credit.pk)
        return self._render(request, "Add VPS tokens", form)

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_manage_tokens_permission(request):
            raise PermissionDenied
        credit = get_object_or_404(TokenPurchase, pk=pk)
        form = TokenResolveForm(request.POST or None, credit=credit)
        if request.method == "POST" and form.is_valid():
            try:
                self._resolve(credit, form.cleaned_data, request.user)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "Done.", messages.SUCCESS)
                return redirect("admin:billing_tokenpurchase_change", credit.pk)
        return self._render(request, f"Resolve {credit}", form)

    @staticmethod
    def _resolve(credit: TokenPurchase, data: dict, staff) -> None:
        action, note = data["action"], data["note"]
        if action == "retry":
            billing.token_purchase_retry(token_purchase_id=credit.pk, staff=staff, note=note)
        elif action == "mark_delivered":
            billing.token_purchase_mark_delivered(
                token_purchase_id=credit.pk,
                virtfusion_credit_id=data["virtfusion_credit_id"],
                staff=staff,
                note=note,
            )
        elif action == "convert":
            billing.token_purchase_convert_to_credit(
                token_purchase_id=credit.pk, staff=staff, note=note
            )
        elif action == "refund":
            billing.token_purchase_refund(token_purchase_id=credit.pk, staff=staff, note=note)
        else:
            billing.token_purchase_cancel(token_purchase_id=credit.pk, staff=staff, reason=note)


class ShortfallResolveForm(forms.Form):
    note = forms.CharField(
        label="How it was settled",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E.g. invoiced the customer, recovered by hand in VirtFusion, written off.",
    )


@admin.register(RefundShortfall)
class RefundShortfallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What refunds could not take back (credit already spent, tokens used): open items
    first; staff settle each and resolve it with a note."""

    list_display = ("created_at", "customer", "invoice", "kind", "amount", "tokens", "status")
    list_filter = ("status", "kind", ("created_at", admin.DateFieldListFilter))
    search_fields = (
        "customer__name",
        "customer__user__email",
        "invoice__number",
        "payment_reference",
    )
    list_select_related = ("customer", "invoice")
    change_form_template = "admin/billing/refundshortfall/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.resolve_view)
        return [
            path("<int:pk>/resolve/", view, name="billing_refundshortfall_resolve"),
            *super().get_urls(),
        ]

    def get_ordering(self, request: HttpRequest) -> list[str]:
        # "open" sorts after "resolved": open ones first (the order of an index).
        return ["-status", "-created_at", "-id"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.resolve_refundshortfall")

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        shortfall = get_object_or_404(RefundShortfall, pk=pk)
        form = ShortfallResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                billing.refund_shortfall_resolve(
                    shortfall_id=shortfall.pk, staff=request.user, note=form.cleaned_data["note"]
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "Marked resolved.", messages.SUCCESS)
                return redirect("admin:billing_refundshortfall_change", shortfall.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Resolve {shortfall}",
            "form": form,
            "opts": self.model._meta,
            "shortfall": shortfall,
        }
        return TemplateResponse(request, "admin/billing/staff_form.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "can_resolve": self.has_resolve_permission(request)}
        return super().change_view(request, object_id, form_url, extra)
