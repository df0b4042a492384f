"""Forms behind the staff-only invoice screens (manual invoice, credit note)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings

from accounts.models import Customer
from billing_portal.common.admin import autocomplete
from invoices.models import Invoice


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
