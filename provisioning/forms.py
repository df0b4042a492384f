"""Client-area provisioning forms: input shape and field validation only (which plans a
service may move to is the plan-change service's rule)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from billing_portal.common.forms import IdChoiceField, SingleLineCharField, WholeNumberField
from catalogue.models import ConfigurableOption, Product
from provisioning.models import CancellationRequest, Service

CHOOSE_PLAN = "Choose one of the plans shown."
OPTION_PREFIX = "option_"


def _quantity_error(option: ConfigurableOption) -> str:
    return (
        f"{option.name}: enter a whole number from {option.min_quantity} to {option.max_quantity}."
    )


class PlanChangeForm(forms.Form):
    """Another plan, or the service's own plan with new add-on quantities (`option_<id>`
    fields, one per add-on of its plan). When add-ons are sent each needs a quantity: an
    empty one is an error, never a removal (0 removes an add-on whose minimum is 0)."""

    product = IdChoiceField(
        queryset=Product.objects.all(),
        error_messages={"required": CHOOSE_PLAN, "invalid_choice": CHOOSE_PLAN},
    )

    def __init__(self, *args, service: Service, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = list(service.product.options.all())
        for option in self.options:
            message = _quantity_error(option)
            self.fields[self._name(option)] = WholeNumberField(
                required=False,
                min_value=option.min_quantity,
                max_value=option.max_quantity,
                error_messages={"invalid": message, "min_value": message, "max_value": message},
            )

    @staticmethod
    def _name(option: ConfigurableOption) -> str:
        return f"{OPTION_PREFIX}{option.pk}"

    def _sent_options(self) -> set[str]:
        return {name for name in self.data if name.startswith(OPTION_PREFIX)}

    def clean(self) -> dict:
        cleaned = super().clean()
        sent = self._sent_options()
        if sent - set(self.fields):
            raise ValidationError("An add-on you chose does not belong to this plan.")
        for option in self.options if sent else ():
            name = self._name(option)
            if cleaned.get(name) is None and name not in self.errors:
                self.add_error(name, _quantity_error(option))
        return cleaned

    def option_quantities(self) -> dict[int, int] | None:
        """The add-on quantities chosen; None when the form sent none (a plan's own form)."""
        if not self._sent_options():
            return None
        return {option.pk: self.cleaned_data[self._name(option)] for option in self.options}


class CancellationForm(forms.Form):
    """When the service should end and why (the reason is a choice; the text is optional).
    `confirm` is set by the confirmation step: without it the page only shows what would
    happen."""

    kind = forms.ChoiceField(
        choices=CancellationRequest.Kind.choices,
        initial=CancellationRequest.Kind.END_OF_PERIOD,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose when the service should end.",
            "invalid_choice": "Choose when the service should end.",
        },
    )
    reason = forms.ChoiceField(
        choices=[("", "Choose a reason"), *CancellationRequest.Reason.choices],
        error_messages={
            "required": "Choose a reason for cancelling.",
            "invalid_choice": "Choose a reason for cancelling.",
        },
    )
    reason_text = SingleLineCharField(
        label="Anything you want to tell us (optional)",
        required=False,
        max_length=2000,
        error_messages={"max_length": "Keep the text under 2000 characters."},
    )
    confirm = forms.BooleanField(required=False)
