"""Client-area DNS forms: input shape and field validation only (records are checked by
dnszones.validation, with the zone)."""

from __future__ import annotations

from django import forms

from billing_portal.common.forms import RequestKeyField


class PlanConfirmForm(forms.Form):
    """Confirming the charge of a plan shown on its page: the page's key makes a double
    submission one purchase, and the amount it showed must still be the charge (an amount
    that is not one reads as a changed price, shown again)."""

    request_key = RequestKeyField()
    amount = forms.CharField(required=False, max_length=40)
