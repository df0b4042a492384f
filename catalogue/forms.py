"""Client-area ordering form: the choices a product offers, built from the catalogue."""

from __future__ import annotations

from django import forms

from billing_portal.common.forms import DomainNameField, HostNameField, WholeNumberField
from catalogue.models import BillingCycle, Product


def _cycle_label(price) -> str:
    label = f"{BillingCycle(price.cycle).label}: {price.price}"
    return f"{label} (+ {price.setup_fee} setup)" if price.setup_fee.amount else label


class OrderForm(forms.Form):
    """Cycle, option quantities, required domain/hostname and a coupon code for one product
    in the customer's currency. Business rules (stock, coupon validity) are the service's."""

    cycle = forms.ChoiceField(widget=forms.RadioSelect, label="Billing cycle")
    coupon_code = forms.CharField(max_length=40, required=False, label="Coupon code")

    def __init__(self, *args, product: Product, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.product = product
        # Shortest cycle first (the enum's order), and chosen, so the form is never blank.
        order = list(BillingCycle.values)
        prices = sorted(
            (p for p in product.prices.all() if p.currency == currency),
            key=lambda p: order.index(p.cycle),
        )
        self.fields["cycle"].choices = [(p.cycle, _cycle_label(p)) for p in prices]
        if prices:
            self.fields["cycle"].initial = prices[0].cycle
        for option in product.options.all():
            self.fields[f"option_{option.pk}"] = WholeNumberField(
                label=f"{option.name} ({option.unit_label})",
                min_value=option.min_quantity,
                max_value=option.max_quantity,
                initial=option.min_quantity,
            )
        if product.requires_domain:
            self.fields["domain"] = DomainNameField(label="Domain name")
        if product.requires_hostname:
            self.fields["hostname"] = HostNameField(label="Hostname")

    def option_quantities(self) -> dict[int, int]:
        return {
            int(name.removeprefix("option_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("option_")
        }
