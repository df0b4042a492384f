"""Client-area DNS forms: input shape and field validation only (records are checked by
dnszones.validation, with the zone)."""

from __future__ import annotations

from django import forms

from billing_portal.common.forms import IdChoiceField, RequestKeyField
from dnszones.models import DnsPlan

CHOOSE_PLAN = "Choose one of the plans shown."


class PlanBuyForm(forms.Form):
    """Buying a plan or switching to another; the page's key makes a double submission one
    purchase."""

    plan = IdChoiceField(
        queryset=DnsPlan.objects.filter(is_active=True),
        error_messages={"required": CHOOSE_PLAN, "invalid_choice": CHOOSE_PLAN},
    )
    request_key = RequestKeyField()
