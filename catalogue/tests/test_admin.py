"""Staff screens for the catalogue, with provisioning's placement of a product."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalogue.tests.factories import (
    ConfigurableOptionFactory,
    CouponFactory,
    ProductGroupFactory,
    ProductPriceFactory,
    TaxRateFactory,
)
from provisioning.models import ProductPlacement
from provisioning.tests.factories import ServerGroupFactory, placed_product

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model", ["productgroup", "product", "configurableoption", "coupon", "taxrate"]
)
def test_catalogue_screens_open(staff_client, model):
    price = ProductPriceFactory()
    ConfigurableOptionFactory(product=price.product)
    CouponFactory()
    TaxRateFactory()
    assert staff_client.get(reverse(f"admin:catalogue_{model}_changelist")).status_code == 200
    assert staff_client.get(reverse(f"admin:catalogue_{model}_add")).status_code == 200


def _product_form(**fields) -> dict:
    return {
        "group": ProductGroupFactory().pk,
        "name": "Sandbox box",
        "slug": "sandbox-box",
        "kind": "other",
        "module": "sandbox",
        "module_settings": "{}",
        "sort_order": 0,
        "usage_included": "0",
        "trial_days": 0,
        "prices-TOTAL_FORMS": 0,
        "prices-INITIAL_FORMS": 0,
        "options-TOTAL_FORMS": 0,
        "options-INITIAL_FORMS": 0,
        "placement-TOTAL_FORMS": 1,
        "placement-INITIAL_FORMS": 0,
        "backup_policy-TOTAL_FORMS": 0,
        "backup_policy-INITIAL_FORMS": 0,
        **fields,
    }


def test_staff_place_a_product_on_a_server_group_from_the_product_screen(staff_client):
    group = ServerGroupFactory()
    url = reverse("admin:catalogue_product_add")
    refused = staff_client.post(url, _product_form())
    assert refused.status_code == 200
    assert "Choose the server group new services go to." in refused.content.decode()

    staff_client.post(url, _product_form(**{"placement-0-server_group": group.pk}))
    placement = ProductPlacement.objects.get(product__slug="sandbox-box")
    assert placement.server_group == group
    listing = staff_client.get(reverse("admin:catalogue_product_changelist")).content.decode()
    assert group.name in listing


def test_a_product_without_a_module_needs_no_placement(staff_client):
    url = reverse("admin:catalogue_product_add")
    staff_client.post(url, _product_form(module="", slug="manual-thing"))
    assert not ProductPlacement.objects.filter(product__slug="manual-thing").exists()
    product = placed_product(ServerGroupFactory(), module="sandbox")
    page = staff_client.get(reverse("admin:catalogue_product_change", args=[product.pk]))
    assert page.status_code == 200
    assert "placement" in page.content.decode()


def test_staff_give_a_product_automatic_backups_from_the_product_screen(staff_client):
    from provisioning.models import ProductBackupPolicy

    form = _product_form(
        **{
            "placement-0-server_group": ServerGroupFactory().pk,
            "backup_policy-TOTAL_FORMS": 1,
            "backup_policy-0-interval": "weekly",
            "backup_policy-0-keep": "4",
        }
    )
    staff_client.post(reverse("admin:catalogue_product_add"), form)
    policy = ProductBackupPolicy.objects.get(product__slug="sandbox-box")
    assert (policy.interval, policy.keep, policy.customer_may_disable) == ("weekly", 4, False)
