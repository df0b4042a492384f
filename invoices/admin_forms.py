"""Forms behind the staff-only invoice screens (manual invoice, credit note)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings

from accounts.models import Customer
from billing_portal.common.admin import autocomplete
from invoices.models import Invoice, Product


class ManualInvoiceForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(), widget=autocomplete(Invoice, "customer")
    )
    currency = forms.ChoiceField(choices=())
    due_date = forms.DateField(required=False, help_text="Empty: due on the day it is issued.")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    issue_now = forms.BooleanField(required=False, initial=True, label="Issue now")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in settings.CURRENCIES]


class ManualLineForm(forms.Form):
    description = forms.CharField(max_length=300)
    quantity = forms.DecimalField(min_value=Decimal("0.0001"), max_digits=14, decimal_places=4)
    unit_price = forms.DecimalField(min_value=Decimal("0"), max_digits=14, decimal_places=2)


ManualLineFormSet = forms.formset_factory(ManualLineForm, extra=3, min_num=1, validate_min=True)


class CreditNoteForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class ProductAdminForm(forms.ModelForm):
    """Checks the module's required product settings when staff save a product."""

    class Meta:
        model = Product
        fields = "__all__"  # noqa: DJ007 (every field is staff-editable)

    def clean(self) -> dict:
        from provisioning.models import SitePlan
        from provisioning.panels.registry import MODULES, module_settings_errors

        data = super().clean()
        module = data.get("module") or ""
        if module and module not in MODULES:
            self.add_error("module", f"Unknown module. Choose one of: {', '.join(MODULES)}.")
            return data
        errors = module_settings_errors(module, data.get("module_settings") or {})
        for name, message in errors.items():
            self.add_error("module_settings", f"{name}: {message}")
        plan = (data.get("module_settings") or {}).get("plan")
        if module == "wordpress" and plan and not SitePlan.objects.filter(name=plan).exists():
            self.add_error("module_settings", f"plan: no site plan named {plan!r}.")
        if module and data.get("server_group") is None:
            self.add_error("server_group", "Choose the server group new services go to.")
        return data
