"""The client area's email preferences page: which optional emails the customer gets
(accounts/email_preferences.py). Not a credential or money change, so staff acting as the
customer may change it for them (a customer asking support to stop receipts)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse
from django.urls import reverse_lazy
from django.views.generic import FormView

from accounts.email_preferences import (
    PREFERENCE_FIELDS,
    email_preferences_of,
    email_preferences_update,
)
from accounts.models import Customer, EmailPreferences
from accounts.selectors import customer_get_for_user


class EmailPreferencesForm(forms.ModelForm):
    class Meta:
        model = EmailPreferences
        fields = PREFERENCE_FIELDS


class EmailPreferencesView(LoginRequiredMixin, FormView):
    template_name = "accounts/email_preferences.html"
    form_class = EmailPreferencesForm
    success_url = reverse_lazy("accounts:email_preferences")

    def _customer(self) -> Customer:
        customer = customer_get_for_user(user=self.request.user)
        if customer is None:  # a staff login with no customer profile
            raise Http404("No customer profile.")
        return customer

    def get_form_kwargs(self) -> dict:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = email_preferences_of(customer=self._customer())
        return kwargs

    def form_valid(self, form: EmailPreferencesForm) -> HttpResponse:
        email_preferences_update(customer=self._customer(), values=form.cleaned_data)
        messages.success(self.request, "Your email preferences were saved.")
        return super().form_valid(form)
