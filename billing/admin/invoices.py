"""Staff screens for invoices: the list, issue and cancel actions, manual invoices and
credit notes. Issuing goes through billing (billing.invoice_issue), so the Invoice admin is
billing's; it registers invoices' model, so its admin URLs (admin/invoices/invoice/…) and
templates stay (it was invoices' until issue 13)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from djmoney.money import Money

from billing import services as billing
from billing.services.issuing import invoice_create_manual
from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    permission_check,
)
from billing_portal.common.errors import DomainError
from invoices import services
from invoices.admin_forms import (
    CreditNoteForm,
    ManualInvoiceForm,
    ManualLineFormSet,
)
from invoices.models import Invoice, InvoiceLine


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "description",
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "amount",
        "discount",
        "tax",
        "total",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "customer", "kind", "status", "total", "due_date", "issued_at")
    list_filter = (
        "status",
        "kind",
        ("due_date", admin.DateFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("number", "customer__name", "customer__company", "customer__user__email")
    list_select_related = ("customer",)
    inlines = [InvoiceLineInline]
    actions = ["issue_selected", "cancel_selected"]

    has_issue_permission = permission_check("invoices.issue_invoice")
    has_cancel_permission = permission_check("invoices.cancel_invoice")
    # The standard add form is off (read-only admin); manual invoices have their own view.
    has_manual_permission = permission_check("invoices.add_invoice")
    has_credit_note_permission = permission_check("invoices.add_creditnote")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if _autocomplete_for(request, "payments", "payment", "invoice"):
            # Staff record payments against unpaid invoices only (ManualPaymentForm).
            queryset = queryset.filter(status=Invoice.Status.UNPAID)
        return queryset, duplicates

    def _apply(self, request: HttpRequest, queryset: QuerySet, action, verb: str) -> None:
        done = 0
        for invoice in queryset:
            try:
                action(invoice_id=invoice.pk, actor=request.user)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{invoice}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} invoice(s) {verb}.", messages.SUCCESS)

    change_list_template = "admin/invoices/invoice/change_list.html"
    change_form_template = "admin/invoices/invoice/change_form.html"

    def get_urls(self):
        custom = [
            path(
                "manual/",
                self.admin_site.admin_view(self.manual_invoice_view),
                name="invoices_invoice_manual",
            ),
            path(
                "<int:invoice_id>/credit-note/",
                self.admin_site.admin_view(self.credit_note_view),
                name="invoices_invoice_credit_note",
            ),
        ]
        return custom + super().get_urls()

    def manual_invoice_view(self, request: HttpRequest) -> HttpResponse:
        """Create a manual invoice through the invoice services (draft, then issue)."""
        if not self.has_manual_permission(request):
            raise PermissionDenied
        form = ManualInvoiceForm(request.POST or None)
        if not self.has_issue_permission(request):
            del form.fields["issue_now"]  # a draft, for someone who may issue it
        lines = ManualLineFormSet(request.POST or None, prefix="lines")
        if request.method == "POST" and form.is_valid() and lines.is_valid():
            data = form.cleaned_data
            drafts = [
                services.LineDraft(
                    kind="manual",
                    description=line["description"],
                    quantity=line["quantity"],
                    unit_price=Money(line["unit_price"], data["currency"]),
                )
                for line in lines.cleaned_data
                if line
            ]
            invoice = invoice_create_manual(
                customer=data["customer"],
                currency=data["currency"],
                lines=drafts,
                due_date=data["due_date"],
                notes=data["notes"],
                issue=bool(data.get("issue_now")),
                actor=request.user,
            )
            self.message_user(request, f"{invoice} created.", messages.SUCCESS)
            return redirect("admin:invoices_invoice_change", invoice.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Create a manual invoice",
            "form": form,
            "lines": lines,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/invoices/invoice/manual.html", context)

    def credit_note_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        if not self.has_credit_note_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        form = CreditNoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                note = services.credit_note_issue(
                    invoice_id=invoice.pk,
                    amount=Money(form.cleaned_data["amount"], invoice.currency),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, f"Credit note {note} issued.", messages.SUCCESS)
                return redirect("admin:invoices_invoice_change", invoice.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Credit note for {invoice}",
            "form": form,
            "invoice": invoice,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/invoices/invoice/credit_note.html", context)

    @admin.action(description="Issue selected draft invoices", permissions=["issue"])
    def issue_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, billing.invoice_issue, "issued")

    @admin.action(description="Cancel selected unpaid invoices", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, services.invoice_cancel, "cancelled")


def _autocomplete_for(request: HttpRequest, app_label: str, model: str, field: str) -> bool:
    """Whether `request` is the admin's autocomplete search for `app_label.model.field`."""
    asked = [request.GET.get(name) for name in ("app_label", "model_name", "field_name")]
    return request.resolver_match.url_name == "autocomplete" and asked == [app_label, model, field]
