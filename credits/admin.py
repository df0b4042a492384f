"""Staff screens for the dual wallet: balances, the ledger and token purchases are read-only;
credit and tokens are added, removed and resolved through the credit services, always with a
reason."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from djmoney.money import Money

from accounts.models import Customer
from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    autocomplete,
    currency_filter,
    permission_check,
)
from billing_portal.common.errors import DomainError
from credits import services
from credits.models import CreditAccount, CreditEntry, RefundShortfall, TokenPurchase


class CreditChangeForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(), widget=autocomplete(CreditAccount, "customer")
    )
    direction = forms.ChoiceField(choices=[("add", "Add credit"), ("remove", "Remove credit")])
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    currency = forms.ChoiceField(choices=())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    request_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in settings.CURRENCIES]


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "currency", "balance", "last_sequence", "updated_at")
    list_filter = ("currency",)
    search_fields = ("customer__name", "customer__company", "customer__user__email")
    list_select_related = ("customer",)
    change_list_template = "admin/credits/creditaccount/change_list.html"

    has_change_credit_permission = permission_check("credits.change_credit")

    def get_urls(self):
        view = self.admin_site.admin_view(self.change_credit_view)
        return [path("change-credit/", view, name="credits_change_credit"), *super().get_urls()]

    def change_credit_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_credit_permission(request):
            raise PermissionDenied
        initial = {"request_key": uuid.uuid4().hex, "customer": request.GET.get("customer")}
        form = CreditChangeForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            change = (
                services.credit_add_by_staff
                if data["direction"] == "add"
                else services.credit_remove_by_staff
            )
            try:
                change(
                    customer=data["customer"],
                    amount=Money(data["amount"], data["currency"]),
                    reason=data["reason"],
                    staff=request.user,
                    request_key=data["request_key"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "The credit balance was changed.", messages.SUCCESS)
                return redirect("admin:credits_creditaccount_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Add or remove credit",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/credits/change_credit.html", context)


@admin.register(CreditEntry)
class CreditEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "account",
        "sequence",
        "kind",
        "amount",
        "balance_after",
        "staff_user",
        "reason",
    )
    list_filter = ("kind", currency_filter(), ("created_at", admin.DateFieldListFilter))
    search_fields = (
        "account__customer__name",
        "account__customer__user__email",
        "idempotency_key",
        "payment_reference",
    )
    list_select_related = ("account__customer", "staff_user")
    # Newest first across accounts (the model's order, by sequence, is per account).
    ordering = ("-created_at", "-id")


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
class TokenPurchaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
    list_filter = ("status", "source")
    search_fields = ("customer__name", "customer__user__email", "invoice__number")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    change_form_template = "admin/credits/tokenpurchase/change_form.html"
    change_list_template = "admin/credits/tokenpurchase/change_list.html"

    has_manage_tokens_permission = permission_check("credits.manage_tokens")

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "add-tokens/", site.admin_view(self.grant_view), name="credits_tokenpurchase_grant"
            ),
            path(
                "<int:pk>/resolve/",
                site.admin_view(self.resolve_view),
                name="credits_tokenpurchase_resolve",
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
        return TemplateResponse(request, "admin/credits/change_credit.html", context)

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_manage_tokens_permission(request):
            raise PermissionDenied
        form = TokenGrantForm(
            request.POST or None, initial={"customer": request.GET.get("customer")}
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                credit = services.tokens_add_by_staff(
                    customer=data["customer"],
                    tokens=data["tokens"],
                    reason=data["reason"],
                    staff=request.user,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "The tokens are being added.", messages.SUCCESS)
                return redirect("admin:credits_tokenpurchase_change", credit.pk)
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
                return redirect("admin:credits_tokenpurchase_change", credit.pk)
        return self._render(request, f"Resolve {credit}", form)

    @staticmethod
    def _resolve(credit: TokenPurchase, data: dict, staff) -> None:
        action, note = data["action"], data["note"]
        if action == "retry":
            services.token_purchase_retry(token_purchase_id=credit.pk, staff=staff, note=note)
        elif action == "mark_delivered":
            services.token_purchase_mark_delivered(
                token_purchase_id=credit.pk,
                virtfusion_credit_id=data["virtfusion_credit_id"],
                staff=staff,
                note=note,
            )
        elif action == "convert":
            services.token_purchase_convert_to_credit(
                token_purchase_id=credit.pk, staff=staff, note=note
            )
        elif action == "refund":
            services.token_purchase_refund(token_purchase_id=credit.pk, staff=staff, note=note)
        else:
            services.token_purchase_cancel(token_purchase_id=credit.pk, staff=staff, reason=note)


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
    list_filter = ("status", "kind")
    search_fields = (
        "customer__name",
        "customer__user__email",
        "invoice__number",
        "payment_reference",
    )
    list_select_related = ("customer", "invoice")
    date_hierarchy = "created_at"
    change_form_template = "admin/credits/refundshortfall/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.resolve_view)
        return [
            path("<int:pk>/resolve/", view, name="credits_refundshortfall_resolve"),
            *super().get_urls(),
        ]

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["-status", "-created_at"]  # "open" sorts after "resolved": open ones first

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("credits.resolve_refundshortfall")

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        shortfall = get_object_or_404(RefundShortfall, pk=pk)
        form = ShortfallResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.refund_shortfall_resolve(
                    shortfall_id=shortfall.pk, staff=request.user, note=form.cleaned_data["note"]
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "Marked resolved.", messages.SUCCESS)
                return redirect("admin:credits_refundshortfall_change", shortfall.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Resolve {shortfall}",
            "form": form,
            "opts": self.model._meta,
            "shortfall": shortfall,
        }
        return TemplateResponse(request, "admin/credits/change_credit.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "can_resolve": self.has_resolve_permission(request)}
        return super().change_view(request, object_id, form_url, extra)
