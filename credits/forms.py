"""Client-area credit forms: input shape and field validation only."""

from __future__ import annotations

from django import forms

from billing_portal.common.forms import RequestKeyField


class PayWithCreditForm(forms.Form):
    """'Use account credit' on an invoice; the page's nonce makes a double click one
    payment."""

    nonce = RequestKeyField()
